/**
 * Runs one operation over all input items, top to bottom: read the settings, prepare (read and
 * check) every item, send the valid ones, put out one item per input, paired, in input order.
 *
 * Every item is checked before the first request of the execution, the token request included: a
 * bad row 600 of 1,000 never leaves 599 check-ins sent behind a failed execution. Without Continue
 * On Fail the earliest bad item stops the node before anything is sent; with it, bad items become
 * error items and the rest are sent.
 *
 * A fixed number of workers send the valid items in order, paced by one RequestPacer per
 * execution. Without Continue On Fail the first failed send stops the node: no new item is
 * started, the items already under way (at most Concurrency − 1) finish, and the error names the
 * earliest failing item. With Continue On Fail each failure becomes an error item that n8n routes
 * to the error output when the node's On Error setting asks for one.
 */
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
import { InvalidCredentialsError, merchantSerialNumberProblem, parseVippsCredentials, type VippsCredentials } from '../transport/vippsCredentials';
import { VippsError } from '../transport/vippsErrors';
import { DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_MS, MAX_CONCURRENCY } from './common.descriptions';

export const CREDENTIAL_TYPE = 'vippsMobilePayApi';

export interface BatchSettings {
	concurrency: number;
	maxRequestsPerSecond?: number;
	timeoutMs: number;
}

/** One operation, set up for one execution from the node's options. */
export interface ItemOperation<Prepared> {
	/** Reads and validates item `itemIndex`'s parameters; throws NodeOperationError for bad input. */
	prepare(this: IExecuteFunctions, itemIndex: number): Prepared;
	/** Sends one prepared item. */
	send(this: IExecuteFunctions, client: VippsApiClient, prepared: Prepared, itemIndex: number): Promise<IDataObject>;
	/** Set for a dry run: describes each item instead of sending it, and no token is fetched. */
	dryRun?(client: VippsApiClient, prepared: Prepared): IDataObject;
}

/** Sets an operation up from the node's options; throws NodeOperationError for a bad one. */
export type OperationSetup<Prepared> = (this: IExecuteFunctions) => ItemOperation<Prepared>;

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

interface Batch<Prepared> {
	operation: ItemOperation<Prepared>;
	client: VippsApiClient;
	concurrency: number;
}

/** The operation, the credential and the batch options, each read and checked. */
async function setUpBatch<Prepared>(
	context: IExecuteFunctions,
	setUp: OperationSetup<Prepared>,
	signal: AbortSignal | undefined,
): Promise<Batch<Prepared>> {
	const operation = setUp.call(context);
	const credentials = await getVippsCredentials.call(context);
	const { concurrency, maxRequestsPerSecond, timeoutMs } = readBatchSettings.call(context);
	const client = new VippsApiClient(credentials, {
		http: context.helpers,
		maxConcurrency: concurrency,
		maxRequestsPerSecond,
		timeoutMs,
		signal,
	});
	return { operation, client, concurrency };
}

export async function runBatch<Prepared>(
	this: IExecuteFunctions,
	setUp: OperationSetup<Prepared>,
): Promise<INodeExecutionData[]> {
	const items = this.getInputData();
	const continueOnFail = this.continueOnFail();
	const signal = this.getExecutionCancelSignal();

	// Read the settings. A problem here (operation, credential, options) fails every item: under a
	// Continue setting each becomes an error item. Thrown instead, n8n would pass the input items on
	// as if the node had succeeded (WorkflowExecute.handleNodeExecutionError), and the next step
	// would take every customer as checked in.
	let batch: Batch<Prepared>;
	try {
		batch = await setUpBatch(this, setUp, signal);
	} catch (error) {
		const nodeError = toNodeError(this, error);
		if (!continueOnFail) throw nodeError;
		return items.map((_, itemIndex) => errorItem(itemIndex, nodeError));
	}
	const { operation, client, concurrency } = batch;
	const results: INodeExecutionData[] = new Array(items.length);

	// Prepare all, before the first request.
	const valid: Array<{ itemIndex: number; prepared: Prepared }> = [];
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		try {
			valid.push({ itemIndex, prepared: operation.prepare.call(this, itemIndex) });
		} catch (error) {
			const nodeError = toNodeError(this, error, itemIndex, client);
			if (!continueOnFail) throw nodeError;
			results[itemIndex] = errorItem(itemIndex, nodeError);
		}
	}

	// Send the valid ones (a dry run only describes them).
	const failures: Array<{ itemIndex: number; error: NodeApiError | NodeOperationError }> = [];
	const { dryRun } = operation;
	if (dryRun) {
		for (const { itemIndex, prepared } of valid) {
			results[itemIndex] = { json: dryRun(client, prepared), pairedItem: { item: itemIndex } };
		}
	} else {
		await forEachWithConcurrency(valid.length, concurrency, signal, async (next) => {
			// Without Continue On Fail the node stops at the first error: start nothing new (the
			// items already under way finish).
			if (failures.length) return;
			const { itemIndex, prepared } = valid[next];
			try {
				results[itemIndex] = {
					json: await operation.send.call(this, client, prepared, itemIndex),
					pairedItem: { item: itemIndex },
				};
			} catch (error) {
				const nodeError = toNodeError(this, error, itemIndex, client);
				if (continueOnFail) results[itemIndex] = errorItem(itemIndex, nodeError);
				else failures.push({ itemIndex, error: nodeError });
			}
		});
	}

	// Output in order.
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

/** Runs `task` for indexes 0…count-1 in order, with at most `limit` at a time, stopping on abort. */
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
	await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/**
 * A failed item as n8n's own nodes emit it: `json` holds only `error` and `details`, which is
 * what n8n needs to send it to the error output under "Continue (using error output)"; under
 * "Continue (using regular output)" it stays on the main output.
 */
function errorItem(itemIndex: number, error: NodeApiError | NodeOperationError): INodeExecutionData {
	const details: IDataObject = {};
	if (error.description) details.description = error.description;
	if ((error as NodeApiError).httpCode) details.httpCode = (error as NodeApiError).httpCode;
	return { json: { error: error.message, details }, pairedItem: { item: itemIndex } };
}

/**
 * Every error leaves the node here, as a NodeApiError or NodeOperationError naming the item (when
 * it is one item's), secrets removed.
 */
export function toNodeError(
	context: IExecuteFunctions,
	error: unknown,
	itemIndex?: number,
	client?: VippsApiClient,
): NodeApiError | NodeOperationError {
	if (error instanceof NodeOperationError || error instanceof NodeApiError) return error;
	const redact = (text: string) => client?.redact(text) ?? text;
	if (error instanceof VippsError) {
		const { description, httpCode, vippsResponse } = error.details;
		const message = redact(error.message);
		const redactedDescription = redact(description);
		if (httpCode) {
			const response = vippsResponse === undefined ? null : (JSON.parse(redact(JSON.stringify(vippsResponse))) as JsonObject);
			return new NodeApiError(context.getNode(), { httpCode, vippsResponse: response } as JsonObject, {
				message,
				description: redactedDescription,
				httpCode,
				itemIndex,
			});
		}
		return new NodeOperationError(context.getNode(), message, { description: redactedDescription, itemIndex });
	}
	const message = redact(error instanceof Error ? error.message : String(error));
	return new NodeOperationError(context.getNode(), message, { itemIndex });
}
