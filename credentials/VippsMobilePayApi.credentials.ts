import type { ICredentialDataDecryptedObject, ICredentialTestRequest, ICredentialType, IHttpRequestOptions, INodeProperties } from 'n8n-workflow';

import {
	DEFAULT_SYSTEM_VERSION,
	PACKAGE_NAME,
	PACKAGE_VERSION,
	VIPPS_BASE_URLS,
	parseVippsCredentials,
} from '../nodes/VippsCheckIn/helpers/vippsCredentials';

const KEYS_HINT =
	'Client ID, Client Secret and Subscription Key must all come from the same sales unit (portal.vippsmobilepay.com: For developers → API keys → Show keys), and Environment must match them: test keys only work with Test (MT).';

/**
 * The keys of one Vipps MobilePay sales unit. Checked (zod) before every use. The Test button
 * asks Vipps for an access token, through n8n's own HTTP layer, and says what a refusal means.
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
			description:
				'Scheme, host and port only — no path, query or fragment — e.g. the local simulator from "npm run simulator". The node never follows a redirect from it.',
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
			placeholder: DEFAULT_SYSTEM_VERSION,
			description: `Sent as Vipps-System-Version (max 30 characters). Leave empty to send the version of n8n's n8n-workflow library (${DEFAULT_SYSTEM_VERSION} here), which moves with n8n's own version.`,
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

	/**
	 * n8n calls this before it sends a request with this credential, the Test button's included: the
	 * node's own check, so the Test button refuses (with the node's words, sending nothing) whatever
	 * every execution would refuse, e.g. a Custom Base URL with a path, query or fragment.
	 */
	authenticate = async (credentials: ICredentialDataDecryptedObject, requestOptions: IHttpRequestOptions): Promise<IHttpRequestOptions> => {
		parseVippsCredentials(credentials);
		return requestOptions;
	};

	/** The same request the node's token cache makes (the MSN is left out: optional for tokens). */
	test: ICredentialTestRequest = {
		request: {
			baseURL: `={{ $credentials.environment === "custom" ? $credentials.customBaseUrl : $credentials.environment === "test" ? "${VIPPS_BASE_URLS.test}" : "${VIPPS_BASE_URLS.production}" }}`,
			url: '/accesstoken/get',
			method: 'POST',
			// The client secret must never follow a redirect to another origin.
			disableFollowRedirect: true,
			headers: {
				client_id: '={{ $credentials.clientId }}',
				client_secret: '={{ $credentials.clientSecret }}',
				'Ocp-Apim-Subscription-Key': '={{ $credentials.subscriptionKey }}',
				'Vipps-System-Name': '={{ $credentials.systemName || "n8n" }}',
				'Vipps-System-Version': `={{ $credentials.systemVersion || "${DEFAULT_SYSTEM_VERSION}" }}`,
				'Vipps-System-Plugin-Name': `={{ $credentials.pluginName || "${PACKAGE_NAME}" }}`,
				'Vipps-System-Plugin-Version': `={{ $credentials.pluginVersion || "${PACKAGE_VERSION}" }}`,
			},
		},
		rules: [
			{
				type: 'responseCode',
				properties: { value: 401, message: `Vipps rejected the keys (401). ${KEYS_HINT}` },
			},
			{
				type: 'responseCode',
				properties: { value: 403, message: `Vipps refused these keys (403). ${KEYS_HINT}` },
			},
			{
				type: 'responseCode',
				properties: {
					value: 400,
					message: 'Vipps refused the token request (400): check the Vipps-System-* values (at most 30 characters each) and the keys for stray spaces.',
				},
			},
			{
				type: 'responseCode',
				properties: {
					value: 404,
					message: 'Nothing at this address answers /accesstoken/get (404): check Environment, or give Custom Base URL without a path.',
				},
			},
			...[301, 302, 303, 307, 308].map((value) => ({
				type: 'responseCode' as const,
				properties: { value, message: `This address answered with a redirect (${value}); Vipps APIs never redirect: check the Custom Base URL. Nothing was sent to the other address.` },
			})),
		],
	};
}
