import type { INodeProperties } from 'n8n-workflow';

/**
 * Measured in real n8n 2.41.1 (BENCHMARKS.md): n8n's HTTP helper opens a new connection for every
 * request, and n8n spends about 2 ms of CPU per item (3 over HTTPS), so 1,000 check-ins at 50 ms
 * latency took 3.6–4.5 s at 32 in flight, 2.5–2.9 s at 64 and 2.2 s at 128, where n8n's CPU is the
 * bound. A gateway that throttles makes the node slow down by itself (requestPacer.ts).
 */
export const DEFAULT_CONCURRENCY = 128;
export const MAX_CONCURRENCY = 128;
export const DEFAULT_TIMEOUT_MS = 20_000;

/** Options every Vipps call shares; each operation adds its own. */
export const requestOptions: INodeProperties[] = [
	{
		displayName: 'Merchant Serial Number',
		name: 'merchantSerialNumber',
		type: 'string',
		default: '',
		placeholder: '123456',
		description:
			'Sends this Merchant-Serial-Number (MSN) instead of the one in the credential, e.g. per shop when partner keys act for several sales units. 4–7 digits, found in the Vipps MobilePay portal under For developers.',
	},
	{
		displayName: 'Concurrency',
		name: 'concurrency',
		type: 'number',
		default: DEFAULT_CONCURRENCY,
		typeOptions: { minValue: 1, maxValue: MAX_CONCURRENCY },
		description:
			'How many requests may be under way at once. When Vipps answers 429 (too many requests), the node slows down by itself and recovers afterwards.',
	},
	{
		displayName: 'Max Requests per Second',
		name: 'maxRequestsPerSecond',
		type: 'number',
		default: 0,
		typeOptions: { minValue: 0 },
		description: 'An upper limit on requests started per second; 0 means no fixed limit',
	},
	{
		displayName: 'Timeout',
		name: 'timeout',
		type: 'number',
		default: DEFAULT_TIMEOUT_MS,
		typeOptions: { minValue: 100 },
		description:
			'Milliseconds to wait for Vipps to answer a request before trying again. Timed-out requests are retried; a check-in may then show twice (it moves no money).',
	},
];
