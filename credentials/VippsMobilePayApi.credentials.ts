import type { ICredentialType, INodeProperties } from 'n8n-workflow';

import { PACKAGE_NAME, PACKAGE_VERSION, VIPPS_BASE_URLS } from '../nodes/VippsCheckIn/transport/vippsCredentials';

/**
 * The keys of one Vipps MobilePay sales unit. Checked (zod) before every use, and tested by
 * the node's `vippsMobilePayApiTest`, which fetches an access token and says what is wrong.
 */
export class VippsMobilePayApi implements ICredentialType {
	name = 'vippsMobilePayApi';

	displayName = 'Vipps MobilePay API';

	icon = { light: 'file:../nodes/VippsCheckIn/vippsCheckIn.svg', dark: 'file:../nodes/VippsCheckIn/vippsCheckIn.dark.svg' } as const;

	documentationUrl = 'https://developer.vippsmobilepay.com/docs/knowledge-base/api-keys/';

	properties: INodeProperties[] = [
		{
			displayName: 'Environment',
			name: 'environment',
			type: 'options',
			default: 'production',
			options: [
				{
					name: 'Production',
					value: 'production',
					description: `${VIPPS_BASE_URLS.production} — the only environment where Check-in works`,
				},
				{
					name: 'Test (MT)',
					value: 'test',
					description: `${VIPPS_BASE_URLS.test} — for test keys; Check-in always answers 500 here`,
				},
				{
					name: 'Custom Base URL',
					value: 'custom',
					description: 'The local Vipps simulator, or a proxy in front of the Vipps API',
				},
			],
		},
		{
			displayName:
				'Vipps Check-in only works in production. The test environment answers every check-in with 500, by design.',
			name: 'testEnvironmentNotice',
			type: 'notice',
			default: '',
			displayOptions: { show: { environment: ['test'] } },
		},
		{
			displayName: 'Custom Base URL',
			name: 'customBaseUrl',
			type: 'string',
			default: '',
			placeholder: 'http://127.0.0.1:8080',
			description: 'Address of the API without a path, e.g. the local simulator from "npm run simulator"',
			displayOptions: { show: { environment: ['custom'] } },
		},
		{
			displayName: 'Client ID',
			name: 'clientId',
			type: 'string',
			default: '',
			required: true,
			description:
				'From the Vipps MobilePay portal: For developers → API keys → your sales unit → Show keys',
		},
		{
			displayName: 'Client Secret',
			name: 'clientSecret',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description: 'From the same place as the Client ID. Keep it secret.',
		},
		// eslint-disable-next-line @n8n/community-nodes/credential-unnecessary-password -- Vipps: "Keep it secret."
		{
			displayName: 'Subscription Key',
			name: 'subscriptionKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description: 'The Ocp-Apim-Subscription-Key (primary key) shown with the Client ID',
		},
		{
			displayName: 'Merchant Serial Number',
			name: 'merchantSerialNumber',
			type: 'string',
			default: '',
			placeholder: '123456',
			description:
				'The sales unit\'s MSN (4–7 digits), shown next to its name in the portal. Recommended for everyone; partners acting for many merchants may leave it empty and set it per request in the node\'s options.',
		},
		{
			displayName: 'System Name',
			name: 'systemName',
			type: 'string',
			default: 'n8n',
			description:
				'Sent as Vipps-System-Name (max 30 characters). Vipps uses the four Vipps-System-* headers to trace problems to the platform and plugin.',
		},
		{
			displayName: 'System Version',
			name: 'systemVersion',
			type: 'string',
			default: '',
			placeholder: 'the running n8n version',
			description: 'Sent as Vipps-System-Version (max 30 characters). Leave empty to send the running n8n version.',
		},
		{
			displayName: 'Plugin Name',
			name: 'pluginName',
			type: 'string',
			default: PACKAGE_NAME,
			description: 'Sent as Vipps-System-Plugin-Name (max 30 characters)',
		},
		{
			displayName: 'Plugin Version',
			name: 'pluginVersion',
			type: 'string',
			default: PACKAGE_VERSION,
			description: 'Sent as Vipps-System-Plugin-Version (max 30 characters)',
		},
	];
}
