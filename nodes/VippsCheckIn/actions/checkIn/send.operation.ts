import {
	NodeOperationError,
	updateDisplayOptions,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeProperties,
} from 'n8n-workflow';

import { normalizePhoneNumber } from '../../helpers/phoneNumber';
import { parseMembershipFlag } from '../../helpers/membership';
import { parseYesNo } from '../../helpers/yesNo';
import type { LoyaltyCheckIn, VippsApiClient } from '../../transport';
import { merchantSerialNumberOption, runBatch, type ItemOperation } from '../batch';
import { requestOptions } from '../common.descriptions';

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
					'Whether to only check and normalise every item and output the request that would be sent, without fetching a token or sending anything. Safe to use on production data.',
			},
			...requestOptions,
		],
	},
];

const displayOptions = { show: { resource: ['checkIn'], operation: ['send'] } };

export const description = updateDisplayOptions(displayOptions, properties);

const sendLoyaltyCheckIn: ItemOperation<LoyaltyCheckIn> = {
	prepare(itemIndex) {
		const rawPhone = this.getNodeParameter('phoneNumber', itemIndex, undefined) as unknown;
		const phone = normalizePhoneNumber(rawPhone);
		if (!phone.valid) {
			throw new NodeOperationError(this.getNode(), `Phone Number: ${phone.problem}`, {
				itemIndex,
				description: 'Nothing was sent for this item. Map a Norwegian mobile number, e.g. +47 912 34 567.',
			});
		}
		const rawMember = this.getNodeParameter('isMember', itemIndex, undefined) as unknown;
		const member = parseMembershipFlag(rawMember);
		if (!member.valid) {
			throw new NodeOperationError(this.getNode(), `Is Member: ${member.problem}`, {
				itemIndex,
				description: 'Nothing was sent for this item.',
			});
		}
		return {
			phoneNumber: phone.msisdn,
			isMember: member.isMember,
			merchantSerialNumber: merchantSerialNumberOption.call(this, itemIndex),
		};
	},

	async send(client, checkIn) {
		const { checkInId } = await client.sendLoyaltyCheckIn(checkIn);
		return outputFor(client, checkIn, { checkInId });
	},

	isDryRun() {
		// From an expression Dry Run may be "yes" or 1: anything unclear is refused, never sent for real.
		const dryRun = parseYesNo(this.getNodeParameter('options.dryRun', 0, false) as unknown);
		if (!dryRun.valid) {
			throw new NodeOperationError(this.getNode(), `Option "Dry Run": ${dryRun.problem}`, {
				description: 'Nothing was sent. Turn Dry Run on or off, or make its expression give true or false.',
			});
		}
		return dryRun.yes;
	},

	describe(client, checkIn) {
		return outputFor(client, checkIn, { dryRun: true, request: client.describeLoyaltyCheckIn(checkIn) as unknown as IDataObject });
	},
};

function outputFor(client: VippsApiClient, checkIn: LoyaltyCheckIn, extra: IDataObject): IDataObject {
	return {
		...extra,
		phoneNumber: checkIn.phoneNumber,
		isMember: checkIn.isMember,
		merchantSerialNumber: client.merchantSerialNumberFor(checkIn.merchantSerialNumber),
	};
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await runBatch.call(this, sendLoyaltyCheckIn);
}
