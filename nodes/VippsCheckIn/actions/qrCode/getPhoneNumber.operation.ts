import { updateDisplayOptions, type INodeProperties } from 'n8n-workflow';

import { describeShape } from '../../helpers/phoneNumber';
import { qrCodeCreatedAt } from '../../helpers/qrCode';
import { itemParameter, itemRefused, merchantSerialNumberOption, type ItemOperation } from '../batch';
import { requestOptions } from '../common.descriptions';

const properties: INodeProperties[] = [
	{
		displayName: 'QR Code',
		name: 'qrCode',
		type: 'string',
		required: true,
		default: '',
		placeholder: 'https://qr.vipps.no/p/…',
		description:
			"The complete content of the customer's personal QR code from the Vipps or MobilePay app, exactly as the scanner read it",
		hint: 'Vipps returns the phone number behind the code; pass it on to a Send Loyalty Check-in',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		options: requestOptions,
	},
];

const displayOptions = { show: { resource: ['qrCode'], operation: ['getPhoneNumber'] } };

export const description = updateDisplayOptions(displayOptions, properties);

interface QrExchange {
	qrCode: string;
	merchantSerialNumber?: string;
}

const getPhoneNumber: ItemOperation<QrExchange> = {
	prepare(itemIndex) {
		const qrCode = itemParameter.call(this, 'qrCode', itemIndex, 'QR Code');
		if (typeof qrCode !== 'string' || qrCode.trim() === '') {
			throw itemRefused.call(this, itemIndex, `QR Code: expected the scanned text; got ${describeShape(qrCode)}`);
		}
		return { qrCode: qrCode.trim(), merchantSerialNumber: merchantSerialNumberOption.call(this, itemIndex) };
	},

	async send(client, exchange) {
		const result = await client.exchangeQrCode(exchange.qrCode, exchange.merchantSerialNumber);
		return {
			phoneNumber: result.msisdn,
			qrCodeVersion: result.version ?? null,
			qrCodeCreatedAt: qrCodeCreatedAt(result.timestamp),
			merchantSerialNumber: client.merchantSerialNumberFor(exchange.merchantSerialNumber),
		};
	},
};

/** Get Phone Number From QR Code has no node-wide options of its own. */
export function setUp(): ItemOperation<QrExchange> {
	return getPhoneNumber;
}
