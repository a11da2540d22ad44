import { randomBytes, randomUUID } from 'crypto';
import { authorizeApiCall } from './auth';
import type { SimulatorContext } from './context';
import {
	emptyReply,
	hasJsonContentType,
	isJsonObject,
	JSON_CONTENT_TYPE,
	jsonReply,
	parseJson,
	type IncomingCall,
	type Reply,
} from './http';
import type { CheckInResponseStyle } from './types';
import { checkVippsHeaders, type InvalidParam } from './vippsHeaders';

const PHONE_NUMBER_PATTERN = /^47[0-9]{8}$/;
const CHECK_IN_FIELDS = ['phoneNumber', 'isMember'];

/** POST /point-of-sale/v1/loyalty-check-in */
export function handleCheckIn(call: IncomingCall, context: SimulatorContext): Reply {
	return (
		authorizeApiCall(call.headers, context) ??
		refuseInMerchantTest(context) ??
		validateCheckIn(call) ??
		checkedIn(context.checkInResponseStyle)
	);
}

/** The Merchant Test environment answers every authorised check-in with 500, by design (guide FAQ). */
function refuseInMerchantTest(context: SimulatorContext): Reply | undefined {
	return context.environment === 'test' ? emptyReply(500) : undefined;
}

function validateCheckIn(call: IncomingCall): Reply | undefined {
	const invalidParams = [...checkVippsHeaders(call.headers), ...checkBody(call)];
	return invalidParams.length > 0 ? validationProblem(invalidParams) : undefined;
}

function checkBody(call: IncomingCall): InvalidParam[] {
	if (!hasJsonContentType(call.headers)) {
		return [{ name: 'Content-Type', reason: 'The request body must be sent as application/json.' }];
	}
	if (call.rawBody.trim() === '') return [{ name: '$', reason: 'A non-empty request body is required.' }];
	const body = parseJson(call.rawBody);
	if (body === undefined) return [{ name: '$', reason: 'The request body is not valid JSON.' }];
	if (!isJsonObject(body)) return [{ name: '$', reason: 'The request body must be a JSON object.' }];
	return [...checkPhoneNumber(body.phoneNumber), ...checkIsMember(body.isMember), ...checkNoOtherFields(body)];
}

// The contract marks both fields nullable, yet requires them and the API needs both: null is refused.
function checkPhoneNumber(value: unknown): InvalidParam[] {
	if (value === undefined || value === null) return [{ name: 'phoneNumber', reason: 'The phoneNumber field is required.' }];
	if (typeof value !== 'string') {
		return [{ name: 'phoneNumber', reason: 'The JSON value could not be converted to System.String.' }];
	}
	if (!PHONE_NUMBER_PATTERN.test(value)) {
		return [
			{
				name: 'phoneNumber',
				reason: `The field phoneNumber must be in MSISDN format and match the regular expression '${PHONE_NUMBER_PATTERN.source}'.`,
			},
		];
	}
	return [];
}

function checkIsMember(value: unknown): InvalidParam[] {
	if (value === undefined || value === null) return [{ name: 'isMember', reason: 'The isMember field is required.' }];
	if (typeof value !== 'boolean') {
		return [{ name: 'isMember', reason: 'The JSON value could not be converted to System.Boolean.' }];
	}
	return [];
}

/** The contract does not forbid extra fields, but the body is "both fields, nothing else" (NOTES §2): catch client bugs. */
function checkNoOtherFields(body: Record<string, unknown>): InvalidParam[] {
	return Object.keys(body)
		.filter((name) => !CHECK_IN_FIELDS.includes(name))
		.map((name) => ({ name, reason: `The field ${name} is not part of a check-in; send only phoneNumber and isMember.` }));
}

/** ASP.NET Core's validation problem, in the contract's ErrorResponse shape. */
export function validationProblem(invalidParams: InvalidParam[]): Reply {
	return jsonReply(400, {
		type: 'https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.1',
		title: 'One or more validation errors occurred.',
		detail: 'BadRequest',
		instance: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-00`,
		invalidParams,
	});
}

function checkedIn(style: CheckInResponseStyle): Reply {
	const id = randomUUID();
	switch (style) {
		case 'jsonString':
			return jsonReply(200, id);
		case 'object':
			return jsonReply(200, { id });
		case 'rawText':
			// As spec-generated mock servers answer: the bare GUID, still labelled JSON.
			return { status: 200, headers: { 'Content-Type': JSON_CONTENT_TYPE }, body: id };
	}
}
