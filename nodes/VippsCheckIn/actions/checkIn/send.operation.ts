import type { DateTime } from 'luxon';
import {
	NodeOperationError,
	updateDisplayOptions,
	type IDataObject,
	type IExecuteFunctions,
	type INodeProperties,
} from 'n8n-workflow';

import { normalizePhoneNumber } from '../../helpers/phoneNumber';
import { parseMembershipFlag } from '../../helpers/membership';
import { parseYesNo } from '../../helpers/yesNo';
import type { LoyaltyCheckIn, VippsApiClient } from '../../transport';
import { itemParameter, itemRefused, merchantSerialNumberOption, type ItemOperation } from '../batch';
import { requestOptions } from '../common.descriptions';
import { MAX_RECORDS, RepeatGuard, contactKey, type PreviousCheckIn, type RepeatWindow } from './repeatGuard';

const properties: INodeProperties[] = [
	{
		displayName: 'Phone Number',
		name: 'phoneNumber',
		type: 'string',
		required: true,
		default: '',
		placeholder: '+47 912 34 567',
		description:
			"The customer's Norwegian mobile number: 8 digits starting with 4 or 9 (landline and service numbers have no Vipps app and are refused). Accepts +47 912 34 567, 0047 91234567, 91234567, 4791234567 and the like; it is sent as 47 followed by the 8 digits.",
		hint: 'Drag the phone field from an earlier node, e.g. {{ $json.phone }}',
	},
	{
		displayName: 'Is Member',
		name: 'isMember',
		type: 'boolean',
		default: true,
		description:
			'Whether the customer is a member of your loyalty program. True shows the check-in screen in their Vipps app (only while the app is open); false shows nothing — that is expected, not an error. Expressions may also give yes/no, ja/nei or 1/0.',
		hint: 'False sends the check-in but the app shows nothing',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		options: [
			{
				displayName: 'Dry Run',
				name: 'dryRun',
				type: 'boolean',
				default: false,
				description:
					'Whether to only check and normalise the item and output the request that would be sent, without sending it. Read per item: an expression over the item (e.g. a test column) makes only those items dry, and when every item is dry no token is fetched. Safe to use on production data.',
			},
			{
				displayName: 'Skip Repeats',
				name: 'skipRepeats',
				type: 'options',
				default: 'off',
				noDataExpression: true,
				options: [
					{ name: 'Off', value: 'off', description: 'Send every item' },
					{
						name: 'Within the Same Hour',
						value: 'sameHour',
						description: "Skip a phone number already checked in since the hour began (workflow's timezone)",
					},
					{
						name: 'The Same Day',
						value: 'sameDay',
						description: "Skip a phone number already checked in since midnight (workflow's timezone)",
					},
					{
						name: 'Within a Number of Minutes',
						value: 'minutes',
						description: 'Skip a phone number checked in less than that many minutes ago (up to a fifth longer)',
					},
				],
				description: `Leave out a customer (phone number, MSN and Is Member) this node already checked in within the window, e.g. when a CRM reports every change of a contact. Applies to the whole run (a fixed choice, not per item). A repeat is not sent: its item comes out with "skipped": true and when the earlier check-in took place — the exact time for one sent in this n8n process just before, otherwise the span the records allow (since the hour, the day or the window began). Successful check-ins count, and so do failed ones that may have reached Vipps all the same (a timeout, a 502–504, a cancel after sending): their repeat says an earlier attempt may have arrived ("confirmed": false). A check-in still under way in another execution of this node is waited for. Dry Run records nothing. The records live in n8n's database, per node, and hold the latest ${MAX_RECORDS.toLocaleString('en')} check-ins (six records each with minutes): older ones are forgotten and may be sent again. In queue mode, two workers may still send the same customer in the same moments.`,
			},
			{
				displayName: 'Skip Repeats Within (Minutes)',
				name: 'skipRepeatsMinutes',
				type: 'number',
				default: 60,
				noDataExpression: true,
				typeOptions: { minValue: 1 },
				displayOptions: { show: { skipRepeats: ['minutes'] } },
				description: 'A phone number checked in less than this many minutes ago is not sent again. Applies to the whole run (a fixed number, not per item).',
			},
			...requestOptions,
		],
	},
];

const displayOptions = { show: { resource: ['checkIn'], operation: ['send'] } };

export const description = updateDisplayOptions(displayOptions, properties);

/** Send Loyalty Check-in, set up from the node's option Skip Repeats. */
export function setUp(this: IExecuteFunctions): ItemOperation<LoyaltyCheckIn> {
	const window = repeatWindow.call(this);
	const guard = window && new RepeatGuard(this, window, this.getTimezone());
	let delivered = 0;
	return {
		prepare: readCheckIn,
		async send(client, checkIn) {
			// The client's whole answer goes out: the check-in id and how it was delivered.
			const sendCheckIn = async () => {
				const result = await client.sendLoyaltyCheckIn(checkIn);
				delivered++;
				return outputFor(client, checkIn, { ...result });
			};
			if (!guard) return await sendCheckIn();
			const msn = client.merchantSerialNumberFor(checkIn.merchantSerialNumber);
			const outcome = await guard.checkIn(contactKey(msn, checkIn.phoneNumber, checkIn.isMember), sendCheckIn);
			return 'sent' in outcome ? outcome.sent : outputFor(client, checkIn, skipped(outcome.skipped));
		},
		dryRun: { isOn: isDryRun, describe },
		failureFields: ({ phoneNumber, isMember }) => ({ phoneNumber, isMember }),
		whatWentOut: () =>
			`${delivered} check-in${delivered === 1 ? ' was' : 's were'} delivered to Vipps before the node stopped (the items sent before this one, and those already under way). To see which, set Settings → On Error to "Continue": every item then comes out, sent or failed. With the option Skip Repeats on, running the items again does not send those twice.`,
	};
}

function readCheckIn(this: IExecuteFunctions, itemIndex: number): LoyaltyCheckIn {
	const phone = normalizePhoneNumber(itemParameter.call(this, 'phoneNumber', itemIndex, 'Phone Number'));
	if (!phone.valid) {
		throw itemRefused.call(this, itemIndex, `Phone Number: ${phone.problem}`, '. Map a Norwegian mobile number, e.g. +47 912 34 567.');
	}
	const member = parseMembershipFlag(itemParameter.call(this, 'isMember', itemIndex, 'Is Member'));
	if (!member.valid) throw itemRefused.call(this, itemIndex, `Is Member: ${member.problem}`);
	return {
		phoneNumber: phone.msisdn,
		isMember: member.isMember,
		merchantSerialNumber: merchantSerialNumberOption.call(this, itemIndex),
	};
}

function isDryRun(this: IExecuteFunctions, itemIndex: number): boolean {
	// From an expression Dry Run may be "yes" or 1: anything unclear is refused, never sent for real.
	const dryRun = parseYesNo(itemParameter.call(this, 'options.dryRun', itemIndex, 'Option "Dry Run"', false));
	if (!dryRun.valid) {
		const more = '. Turn Dry Run on or off, or make its expression give true or false.';
		throw itemRefused.call(this, itemIndex, `Option "Dry Run": ${dryRun.problem}`, more);
	}
	return dryRun.yes;
}

function describe(client: VippsApiClient, checkIn: LoyaltyCheckIn): IDataObject {
	return outputFor(client, checkIn, { dryRun: true, request: client.describeLoyaltyCheckIn(checkIn) as unknown as IDataObject });
}

function outputFor(client: VippsApiClient, checkIn: LoyaltyCheckIn, extra: IDataObject): IDataObject {
	return {
		...extra,
		phoneNumber: checkIn.phoneNumber,
		isMember: checkIn.isMember,
		merchantSerialNumber: client.merchantSerialNumberFor(checkIn.merchantSerialNumber),
	};
}

function skipped({ from, to, confirmed }: PreviousCheckIn): IDataObject {
	const at = (time: DateTime) => time.toISO({ suppressMilliseconds: true });
	const when = from.equals(to) ? `at ${at(from)}` : `between ${at(from)} and ${at(to)}`;
	const message = confirmed
		? `Not sent again: already checked in ${when} (option Skip Repeats)`
		: `Not sent again: an earlier attempt ${when} may have reached Vipps, though Vipps did not confirm it (option Skip Repeats)`;
	return { skipped: true, message, previousCheckIn: { from: from.toISO(), to: to.toISO(), confirmed } };
}

function repeatWindow(this: IExecuteFunctions): RepeatWindow | undefined {
	const kind = this.getNodeParameter('options.skipRepeats', 0, 'off') as string;
	if (kind === 'off') return undefined;
	if (kind === 'sameHour' || kind === 'sameDay') return { kind };
	if (kind !== 'minutes') throw new NodeOperationError(this.getNode(), `Skip Repeats: unknown choice "${kind}"`);
	const minutes = Number(this.getNodeParameter('options.skipRepeatsMinutes', 0, 60));
	if (!Number.isFinite(minutes) || minutes <= 0) {
		throw new NodeOperationError(this.getNode(), `Skip Repeats Within (Minutes) must be more than 0; got ${minutes}`);
	}
	return { kind, minutes };
}
