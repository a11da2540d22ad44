'use strict';

// The bench's floor (bench/run.js installs it into real n8n beside the package under test): per
// item, the two parameters every check-in needs, read through n8n's expressions, and one call of
// `this.helpers.httpRequest`, at a fixed concurrency; one token request first. No validation,
// no retries, no pacing, no error handling: n8n's own cost of sending, which no node can beat.

class BenchFloor {
	constructor() {
		const text = (displayName, name) => ({ displayName, name, type: 'string', default: '' });
		this.description = {
			displayName: 'Bench Floor',
			name: 'benchFloor',
			group: ['transform'],
			version: 1,
			description: 'One httpRequest per item, nothing else',
			defaults: { name: 'Bench Floor' },
			inputs: ['main'],
			outputs: ['main'],
			properties: [
				text('Base URL', 'baseUrl'),
				text('Client ID', 'clientId'),
				text('Client Secret', 'clientSecret'),
				text('Subscription Key', 'subscriptionKey'),
				text('Merchant Serial Number', 'merchantSerialNumber'),
				text('Phone Number', 'phoneNumber'),
				{ displayName: 'Is Member', name: 'isMember', type: 'boolean', default: true },
				{ displayName: 'Concurrency', name: 'concurrency', type: 'number', default: 128 },
			],
		};
	}

	async execute() {
		const items = this.getInputData();
		const setting = (name) => this.getNodeParameter(name, 0);
		const baseUrl = setting('baseUrl');
		const keys = {
			'Ocp-Apim-Subscription-Key': setting('subscriptionKey'),
			'Merchant-Serial-Number': setting('merchantSerialNumber'),
		};
		const token = await this.helpers.httpRequest({
			method: 'POST',
			url: `${baseUrl}/accesstoken/get`,
			headers: { client_id: setting('clientId'), client_secret: setting('clientSecret'), ...keys },
		});
		const headers = { Authorization: `Bearer ${token.access_token}`, 'Content-Type': 'application/json', ...keys };
		const output = new Array(items.length);
		let next = 0;
		const worker = async () => {
			while (next < items.length) {
				const item = next++;
				const body = JSON.stringify({
					phoneNumber: this.getNodeParameter('phoneNumber', item),
					isMember: this.getNodeParameter('isMember', item),
				});
				const checkInId = await this.helpers.httpRequest({
					method: 'POST',
					url: `${baseUrl}/point-of-sale/v1/loyalty-check-in`,
					headers,
					body,
					encoding: 'text',
					json: false,
				});
				output[item] = { json: { checkInId }, pairedItem: { item } };
			}
		};
		await Promise.all(Array.from({ length: setting('concurrency') }, worker));
		return [output];
	}
}

module.exports = { BenchFloor };
