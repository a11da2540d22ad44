import type { INodeProperties, INodePropertyOptions } from 'n8n-workflow';

/**
 * Chosen by measurement in real n8n 2.41.1 (docs/benchmark-history.md, "Default concurrency: why
 * 128"): n8n's HTTP helper opens a connection per request, so requests in flight hide its latency
 * until n8n's CPU is the bound. On a busy machine 1,000 check-ins took 9.4 / 7.5 / 6.3 / 4.9 s over
 * HTTP at 16 / 32 / 64 / 128 in flight (HTTPS 8.2 / 6.9 / 6.6 / 6.5 s). Behind a throttling gateway
 * the pacer's rate, not the concurrency, keeps the batch under the limit: 32 to 128 did the same.
 */
export const DEFAULT_CONCURRENCY = 128;
export const MAX_CONCURRENCY = 128;
export const DEFAULT_TIMEOUT_MS = 20_000;

/** A resource's Operation field, its first operation the default. */
export function operationField(resource: string, operations: [INodePropertyOptions, ...INodePropertyOptions[]]): INodeProperties {
	const [{ value: first }] = operations;
	return {
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: [resource] } },
		options: operations,
		default: first,
	};
}

/** Options every Vipps call shares; each operation adds its own. Those that describe the whole run take no expression over the item. */
export const requestOptions: INodeProperties[] = [
	{
		displayName: 'Merchant Serial Number',
		name: 'merchantSerialNumber',
		type: 'string',
		default: '',
		placeholder: '123456',
		description:
			'Sends this Merchant-Serial-Number (MSN) instead of the one in the credential, e.g. per shop when partner keys act for several sales units; an expression may give each item its own. 4–7 digits, found in the Vipps MobilePay portal under For developers.',
	},
	{
		displayName: 'Concurrency',
		name: 'concurrency',
		type: 'number',
		default: DEFAULT_CONCURRENCY,
		noDataExpression: true,
		typeOptions: { minValue: 1, maxValue: MAX_CONCURRENCY },
		description:
			'How many requests may be under way at once, for the whole run (a fixed number, not per item). When Vipps answers 429 (too many requests), the node slows down by itself and recovers afterwards.',
	},
	{
		displayName: 'Max Requests per Second',
		name: 'maxRequestsPerSecond',
		type: 'number',
		default: 0,
		noDataExpression: true,
		typeOptions: { minValue: 0 },
		description: 'An upper limit on requests started per second, for the whole run (a fixed number, not per item); 0 means no fixed limit',
	},
	{
		displayName: 'Timeout',
		name: 'timeout',
		type: 'number',
		default: DEFAULT_TIMEOUT_MS,
		noDataExpression: true,
		typeOptions: { minValue: 100 },
		description:
			'Milliseconds to wait for Vipps to answer a request before trying again, for the whole run (a fixed number, not per item). Timed-out requests are retried; a check-in may then show twice (it moves no money).',
	},
];
