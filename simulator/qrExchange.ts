import { createHash } from 'crypto';
import { authorizeApiCall } from './auth';
import type { SimulatorContext } from './context';
import { hasJsonContentType, isJsonObject, jsonReply, parseJson, type IncomingCall, type Reply } from './http';
import { checkVippsHeaders, type InvalidParam } from './vippsHeaders';

/** A Vipps personal QR code as scanned; any such code exchanges to a phone number derived from it. */
const PERSONAL_QR_CODE_PATTERN = /^https:\/\/qr\.vipps\.no\/p\/\S+$/;
/** The only reason the contract documents for a refused qrCode, used for missing and unknown codes alike. */
const QR_CODE_PROBLEM: InvalidParam = { name: 'qrCode', reason: 'The complete data contained in the QR code is required.' };
const INVALID_BODY = 'The request body contains one or more invalid parameters.';

/** POST /qr/v1/exchange */
export function handleQrExchange(call: IncomingCall, context: SimulatorContext): Reply {
	return authorizeApiCall(call.headers, context) ?? exchange(call, context);
}

function exchange(call: IncomingCall, context: SimulatorContext): Reply {
	const headerProblems = checkVippsHeaders(call.headers);
	if (headerProblems.length > 0) return qrBadRequest('The request contains one or more invalid headers.', headerProblems);
	const request = readExchangeRequest(call);
	if ('problems' in request) return qrBadRequest(INVALID_BODY, request.problems);
	const registered = context.personalQrCodes.get(request.qrCode);
	const msisdn = registered?.msisdn ?? derivedMsisdn(request.qrCode);
	if (msisdn === undefined) return qrBadRequest(INVALID_BODY, [QR_CODE_PROBLEM]);
	const timestamp = registered && 'timestamp' in registered ? registered.timestamp : Math.floor(context.now() / 1000);
	return jsonReply(200, { msisdn, version: '2.0', timestamp });
}

// Extra fields are left alone here: the contract allows them and, unlike check-in, nothing says otherwise.
function readExchangeRequest(call: IncomingCall): { qrCode: string } | { problems: InvalidParam[] } {
	if (!hasJsonContentType(call.headers)) {
		return { problems: [{ name: 'Content-Type', reason: 'The request body must be sent as application/json.' }] };
	}
	const body = parseJson(call.rawBody);
	if (!isJsonObject(body)) return { problems: [{ name: 'body', reason: 'The request body must be a JSON object.' }] };
	const { qrCode } = body;
	const problems = [...(isQrCode(qrCode) ? [] : [QR_CODE_PROBLEM]), ...checkRequestedData(body.requestedData)];
	return isQrCode(qrCode) && problems.length === 0 ? { qrCode } : { problems };
}

function isQrCode(value: unknown): value is string {
	return typeof value === 'string' && value.trim() !== '';
}

function checkRequestedData(value: unknown): InvalidParam[] {
	if (value === undefined || (Array.isArray(value) && value.every((item) => item === 'MSISDN'))) return [];
	return [{ name: 'requestedData', reason: "Only 'MSISDN' can be requested." }];
}

/** A stable Norwegian mobile number for a personal QR code, so tests can rely on it without registering the code. */
export function derivedMsisdn(qrCode: string): string | undefined {
	if (!PERSONAL_QR_CODE_PATTERN.test(qrCode)) return undefined;
	const digits = createHash('sha256').update(qrCode).digest().readUInt32BE(0) % 10_000_000;
	return `479${String(digits).padStart(7, '0')}`;
}

function qrBadRequest(detail: string, extraDetails: InvalidParam[]): Reply {
	return jsonReply(400, { title: 'Bad request', status: 400, detail, extraDetails });
}
