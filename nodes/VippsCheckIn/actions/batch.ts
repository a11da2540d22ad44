/**
 * Runs one operation over all input items, top to bottom: read the settings, prepare (read and
 * check) every item, describe the dry ones, send the others, put out one item per input, paired,
 * in input order.
 *
 * What may be an expression over the item (phone number, Is Member, MSN, Dry Run) is read per
 * item; what describes the run (Concurrency, Max Requests per Second, Timeout) is read once.
 *
 * Every item is checked before the first request of the execution, the token request included: a
 * bad row 600 of 1,000 never leaves 599 check-ins sent behind a failed execution. Without Continue
 * On Fail the earliest bad item stops the node before anything is sent; with it, bad items become
 * error items and the rest are sent.
 *
 * A fixed number of workers send the items in order, through the client's pacing. Without
 * Continue On Fail the first failed send stops the node: no new item is started, the items already
 * under way (at most Concurrency − 1) finish, and the error names the earliest failing item and
 * what had gone out. With Continue On Fail each failure becomes an error item that n8n routes to
 * the error output when the node's On Error setting asks for one.
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
import { InvalidCredentialsError, merchantSerialNumberProblem, parseVippsCredentials, type VippsCredentials } from '../helpers/vippsCredentials';
import { VippsError, type VippsErrorDetails } from '../helpers/vippsErrors';
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
	/** The operation's Dry Run option, read per item: a dry item is described instead of sent (no token for it). */
	dryRun?: {
		isOn(this: IExecuteFunctions, itemIndex: number): boolean;
		describe(client: VippsApiClient, prepared: Prepared): IDataObject;
	};
	/** What a prepared item's error item carries besides the failure, e.g. the phone number it was to send. */
	failureFields?(prepared: Prepared): IDataObject;
	/** Appended to the error that stops the node after a failed send: what had gone out by then. */
	whatWentOut?(): string;
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

/**
 * Concurrency, Max Requests per Second and Timeout describe the whole run: read once, each on its
 * own (no option is another's problem), never per item.
 */
function readBatchSettings(this: IExecuteFunctions): BatchSettings {
	const option = (name: string, fallback: number) => this.getNodeParameter(`options.${name}`, 0, fallback) as unknown;
	const rawConcurrency = option('concurrency', DEFAULT_CONCURRENCY);
	const rawRate = option('maxRequestsPerSecond', 0);
	const rawTimeout = option('timeout', DEFAULT_TIMEOUT_MS);
	const [concurrency, rate, timeoutMs] = [rawConcurrency, rawRate, rawTimeout].map(Number);
	const problems: string[] = [];
	if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
		problems.push(`Concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}; got ${String(rawConcurrency)}`);
	}
	if (!Number.isFinite(rate) || rate < 0) problems.push(`Max Requests per Second must be 0 or more; got ${String(rawRate)}`);
	if (!Number.isFinite(timeoutMs) || timeoutMs < 100) problems.push(`Timeout must be at least 100 ms; got ${String(rawTimeout)}`);
	if (problems.length) {
		throw new NodeOperationError(this.getNode(), problems.join('; '), {
			description: 'These options apply to the whole run and take a fixed value, not an expression over the item.',
		});
	}
	return { concurrency, maxRequestsPerSecond: rate > 0 ? rate : undefined, timeoutMs };
}

/**
 * Item `itemIndex`'s value of a parameter that may be an expression over the item. An expression
 * that throws fails this item only, its error naming the field (`label`).
 */
export function itemParameter(this: IExecuteFunctions, name: string, itemIndex: number, label: string, fallback?: unknown): unknown {
	try {
		return this.getNodeParameter(name, itemIndex, fallback) as unknown;
	} catch (error) {
		throw itemRefused.call(this, itemIndex, `${label}: ${(error as Error).message}`, `: the expression of ${label} failed for it.`);
	}
}

/** The error for an item refused before anything was sent for it; `message` names the field. */
export function itemRefused(this: IExecuteFunctions, itemIndex: number, message: string, more = '.'): NodeOperationError {
	return new NodeOperationError(this.getNode(), message, { itemIndex, description: `Nothing was sent for this item${more}` });
}

/** The per-item Merchant Serial Number option, checked like the credential's. */
export function merchantSerialNumberOption(this: IExecuteFunctions, itemIndex: number): string | undefined {
	const value = itemParameter.call(this, 'options.merchantSerialNumber', itemIndex, 'Option "Merchant Serial Number"', '');
	const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : value;
	if (text === '' || text === undefined || text === null) {
		// n8n gives an empty value for an expression that failed on this item (e.g. a field it lacks):
		// sending under the credential's MSN could check the customer in at another shop.
		const raw = (this.getNode().parameters.options as IDataObject | undefined)?.merchantSerialNumber;
		if (typeof raw === 'string' && raw.startsWith('=')) {
			const message = 'Option "Merchant Serial Number": its expression gave no value for this item';
			throw itemRefused.call(this, itemIndex, message, ". Map a 4–7 digit MSN for every item, or remove the option to send the credential's.");
		}
		return undefined;
	}
	const problem = typeof text === 'string' ? merchantSerialNumberProblem(text) : 'must be 4 to 7 digits';
	if (problem) {
		throw itemRefused.call(this, itemIndex, `Option "Merchant Serial Number" ${problem}`);
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
		return items.map((_, itemIndex) => errorItem(itemIndex, nodeError, error));
	}
	const { operation, client, concurrency } = batch;
	const results: INodeExecutionData[] = new Array(items.length);

	// Prepare all, before the first request: every parameter that may be an expression is read for
	// its own item, Dry Run included, and an expression that throws fails that item only.
	const toSend: Array<{ itemIndex: number; prepared: Prepared }> = [];
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		try {
			const prepared = operation.prepare.call(this, itemIndex);
			if (operation.dryRun?.isOn.call(this, itemIndex)) {
				results[itemIndex] = { json: operation.dryRun.describe(client, prepared), pairedItem: { item: itemIndex } };
			} else {
				toSend.push({ itemIndex, prepared });
			}
		} catch (error) {
			const nodeError = toNodeError(this, error, itemIndex, client);
			if (!continueOnFail) throw nodeError;
			results[itemIndex] = errorItem(itemIndex, nodeError, error);
		}
	}

	// Send the others.
	const failures: Array<{ itemIndex: number; error: NodeApiError | NodeOperationError }> = [];
	await forEachWithConcurrency(toSend.length, concurrency, signal, async (next) => {
		// Without Continue On Fail the node stops at the first error: start nothing new (the
		// items already under way finish).
		if (failures.length) return;
		const { itemIndex, prepared } = toSend[next];
		try {
			results[itemIndex] = {
				json: await operation.send.call(this, client, prepared, itemIndex),
				pairedItem: { item: itemIndex },
			};
		} catch (error) {
			const nodeError = toNodeError(this, error, itemIndex, client);
			if (continueOnFail) results[itemIndex] = errorItem(itemIndex, nodeError, error, operation.failureFields?.(prepared));
			else failures.push({ itemIndex, error: nodeError });
		}
	});

	// Output in order.
	if (signal?.aborted) {
		// n8n marks the execution cancelled (not failed) when the node ends with its own error type.
		throw signal.reason instanceof ExecutionCancelledError
			? signal.reason
			: new ManualExecutionCancelledError(this.getExecutionId());
	}
	if (failures.length) {
		// Items still in flight when one failed may have failed too: report the earliest, and what
		// had gone out once they all ended.
		const { error } = failures.reduce((first, failure) => (failure.itemIndex < first.itemIndex ? failure : first));
		const wentOut = operation.whatWentOut?.();
		if (wentOut) error.description = error.description ? `${error.description} ${wentOut}` : wentOut;
		throw error;
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
 * A failed item: `error` says what failed; `details` holds the description and the facts a
 * workflow can route on: `httpCode` (when Vipps answered), `attempts` (HTTP attempts made, 0 when
 * nothing was sent), `possibleDuplicate` (an attempt may have reached Vipps), `retryAt` (when a
 * closed gateway takes requests again), and what the operation
 * adds (`fields`, e.g. the phone number it was to send).
 *
 * The facts live inside `details` because n8n 2.41 moves an item to the error output under
 * "Continue (using error output)" only when its `json` has no keys but `error`, `message` and
 * `details` (WorkflowExecute.handleNodeErrorOutput), and an item carrying `item.error` has its
 * `json` replaced by the message alone (WorkflowExecute.normalizeNodeErrors). So one shape serves
 * both Continue settings: `{{ $json.details.possibleDuplicate }}` works on either output.
 */
function errorItem(itemIndex: number, error: NodeApiError | NodeOperationError, cause: unknown, fields: IDataObject = {}): INodeExecutionData {
	const facts: Partial<VippsErrorDetails> = cause instanceof VippsError ? cause.details : {};
	const details: IDataObject = {};
	if (error.description) details.description = error.description;
	if ((error as NodeApiError).httpCode) details.httpCode = (error as NodeApiError).httpCode;
	Object.assign(details, fields, { attempts: facts.attempts ?? 0, possibleDuplicate: facts.possibleDuplicate ?? false });
	// A closed gateway: when it takes requests again, for a Wait node.
	if (facts.retryAt) details.retryAt = facts.retryAt;
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
