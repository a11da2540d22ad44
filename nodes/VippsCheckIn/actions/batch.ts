/**
 * Runs one operation over all input items: every item yields exactly one output item or one
 * error item, paired to its input, in input order, whatever the concurrency.
 *
 * A fixed number of workers take the items in order; each reads and checks its item's
 * parameters (bad input is refused before anything is sent for it) and sends it, paced by one
 * RequestPacer per execution. Without Continue On Fail the first error stops the node: no item
 * after it is started, and the error names the item.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

import {
	ExecutionCancelledError,
	ManualExecutionCancelledError,
	NodeApiError,
	NodeOperationError,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type JsonObject,
} from 'n8n-workflow';

import { VippsApiClient } from '../transport';
import { RequestPacer } from '../transport/requestPacer';
import { InvalidCredentialsError, merchantSerialNumberProblem, parseVippsCredentials, type VippsCredentials } from '../transport/vippsCredentials';
import { VippsError } from '../transport/vippsErrors';
import { DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_MS, MAX_CONCURRENCY } from './common.descriptions';

export const CREDENTIAL_TYPE = 'vippsMobilePayApi';

export interface BatchSettings {
	concurrency: number;
	maxRequestsPerSecond?: number;
	timeoutMs: number;
}

export interface ItemOperation<Prepared> {
	/** Reads and validates item `itemIndex`'s parameters; throws NodeOperationError for bad input. */
	prepare(this: IExecuteFunctions, itemIndex: number, credentials: VippsCredentials): Prepared;
	/** Sends one prepared item. */
	send(this: IExecuteFunctions, client: VippsApiClient, prepared: Prepared, itemIndex: number): Promise<IDataObject>;
	/** When set and returning true, `describe` replaces `send` and no token is fetched. */
	isDryRun?(this: IExecuteFunctions): boolean;
	describe?(client: VippsApiClient, prepared: Prepared): IDataObject;
}

export async function getVippsCredentials(this: IExecuteFunctions): Promise<VippsCredentials> {
	const data = await this.getCredentials(CREDENTIAL_TYPE);
	try {
		return parseVippsCredentials(data);
	} catch (error) {
		const invalid = error instanceof InvalidCredentialsError;
		throw new NodeOperationError(this.getNode(), error as Error, {
			message: (error as Error).message,
			description: invalid ? 'Open the Vipps MobilePay API credential and correct the fields named above.' : undefined,
		});
	}
}

function readBatchSettings(this: IExecuteFunctions): BatchSettings {
	const options = this.getNodeParameter('options', 0, {}) as IDataObject;
	const concurrency = Number(options.concurrency ?? DEFAULT_CONCURRENCY);
	const rate = Number(options.maxRequestsPerSecond ?? 0);
	const timeoutMs = Number(options.timeout ?? DEFAULT_TIMEOUT_MS);
	const problems: string[] = [];
	if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
		problems.push(`Concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}; got ${options.concurrency}`);
	}
	if (!Number.isFinite(rate) || rate < 0) problems.push(`Max Requests per Second must be 0 or more; got ${options.maxRequestsPerSecond}`);
	if (!Number.isFinite(timeoutMs) || timeoutMs < 100) problems.push(`Timeout must be at least 100 ms; got ${options.timeout}`);
	if (problems.length) throw new NodeOperationError(this.getNode(), problems.join('; '));
	return { concurrency, maxRequestsPerSecond: rate > 0 ? rate : undefined, timeoutMs };
}

/** The per-item Merchant Serial Number option, checked like the credential's. */
export function merchantSerialNumberOption(this: IExecuteFunctions, itemIndex: number): string | undefined {
	const value = this.getNodeParameter('options.merchantSerialNumber', itemIndex, '') as unknown;
	const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : value;
	if (text === '' || text === undefined || text === null) return undefined;
	const problem = typeof text === 'string' ? merchantSerialNumberProblem(text) : 'must be 4 to 7 digits';
	if (problem) {
		throw new NodeOperationError(this.getNode(), `Option "Merchant Serial Number" ${problem}`, { itemIndex });
	}
	return text as string;
}

export async function runBatch<Prepared>(
	this: IExecuteFunctions,
	operation: ItemOperation<Prepared>,
): Promise<INodeExecutionData[]> {
	const items = this.getInputData();
	const credentials = await getVippsCredentials.call(this);
	const settings = readBatchSettings.call(this);
	const continueOnFail = this.continueOnFail();
	const results: INodeExecutionData[] = new Array(items.length);
	const errorItem = (itemIndex: number, error: Error): INodeExecutionData => ({
		json: {
			error: error.message,
			...((error as NodeOperationError).description ? { description: (error as NodeOperationError).description } : {}),
			...((error as NodeApiError).httpCode ? { httpCode: (error as NodeApiError).httpCode } : {}),
		},
		pairedItem: { item: itemIndex },
	});

	const signal = this.getExecutionCancelSignal();
	const client = new VippsApiClient(credentials, {
		pacer: new RequestPacer({ maxConcurrency: settings.concurrency, maxRequestsPerSecond: settings.maxRequestsPerSecond }),
		timeoutMs: settings.timeoutMs,
		signal,
	});

	const failures: Array<{ itemIndex: number; error: Error }> = [];
	const fail = (itemIndex: number, error: unknown) => {
		const nodeError = toNodeError(this, error, itemIndex);
		if (continueOnFail) results[itemIndex] = errorItem(itemIndex, nodeError);
		else failures.push({ itemIndex, error: nodeError });
	};

	if (operation.isDryRun?.call(this)) {
		for (let itemIndex = 0; itemIndex < items.length && !failures.length; itemIndex++) {
			try {
				const prepared = operation.prepare.call(this, itemIndex, credentials);
				results[itemIndex] = { json: operation.describe!(client, prepared), pairedItem: { item: itemIndex } };
			} catch (error) {
				fail(itemIndex, error);
			}
		}
	} else {
		// Each worker reads and checks its item, then sends it, so n8n's expression evaluation
		// overlaps with the network wait of the items in flight.
		await forEachWithConcurrency(items.length, settings.concurrency, signal, async (itemIndex) => {
			// Without Continue On Fail the node stops at the first error: start nothing new.
			if (failures.length) return;
			try {
				const prepared = operation.prepare.call(this, itemIndex, credentials);
				results[itemIndex] = {
					json: await operation.send.call(this, client, prepared, itemIndex),
					pairedItem: { item: itemIndex },
				};
			} catch (error) {
				fail(itemIndex, error);
			}
		});
	}
	if (signal?.aborted) {
		// n8n marks the execution cancelled (not failed) when the node ends with its own error type.
		throw signal.reason instanceof ExecutionCancelledError
			? signal.reason
			: new ManualExecutionCancelledError(this.getExecutionId());
	}
	if (failures.length) {
		// Items still in flight when one failed may have failed too: report the earliest.
		throw failures.reduce((first, failure) => (failure.itemIndex < first.itemIndex ? failure : first)).error;
	}
	return results;
}

/**
 * Runs `task` for indexes 0…count-1 with at most `limit` at a time, stopping on abort.
 *
 * Workers start one event-loop turn apart: reading an item is synchronous (n8n evaluates its
 * expressions), and started all at once the workers would read `limit` items before the first
 * request (often the token request) could leave. Measured in real n8n: the first check-in
 * reaches Vipps about 70 ms sooner at concurrency 32.
 */
export async function forEachWithConcurrency(
	count: number,
	limit: number,
	signal: AbortSignal | undefined,
	task: (index: number) => Promise<void>,
): Promise<void> {
	let next = 0;
	const worker = async () => {
		while (next < count && !signal?.aborted) await task(next++);
	};
	const workers: Array<Promise<void>> = [];
	for (let started = 0; started < Math.min(limit, count) && next < count; started++) {
		if (started > 0) await nextTurn();
		const running = worker();
		// Awaited below; this keeps a failure from counting as unhandled while workers still start.
		running.catch(() => undefined);
		workers.push(running);
	}
	await Promise.all(workers);
}

export function toNodeError(context: IExecuteFunctions, error: unknown, itemIndex: number): Error {
	if (error instanceof NodeOperationError || error instanceof NodeApiError) return error;
	if (error instanceof VippsError) {
		const { description, httpCode, vippsResponse } = error.details;
		if (httpCode) {
			return new NodeApiError(context.getNode(), { httpCode, vippsResponse: vippsResponse ?? null } as JsonObject, {
				message: error.message,
				description,
				httpCode,
				itemIndex,
			});
		}
		return new NodeOperationError(context.getNode(), error.message, { description, itemIndex });
	}
	return new NodeOperationError(context.getNode(), error as Error, { itemIndex });
}
