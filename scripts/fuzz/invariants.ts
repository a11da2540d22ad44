/**
 * The node's promises, checked on every case from its output and from what the simulator saw.
 * Each invariant has a name; a run can leave some out by name (`npm run fuzz -- --skip a,b`),
 * never weaken one.
 */
import type { INodeExecutionData } from 'n8n-workflow';

import { validateAgainstContract } from '../../simulator/contract';
import { PATHS, type RecordedRequest } from '../../simulator/VippsSimulator';
import { timeoutIsSmall, timeoutOf, type FuzzCase } from './model';
import { phoneNumberOf, type Observation, type PlannedItem } from './runCase';

export const INVARIANTS = {
	finishesInTime: 'the node ends within the deadline (no hang)',
	onePerInput: 'one output item per input item, on the output On Error says (or, under Stop Workflow, an error and no output)',
	pairedInOrder: 'each output item is paired to its input item, in input order',
	stopNamesItem: 'under Stop Workflow, an error that is not the batch options\' names an item',
	contract: 'every request the simulator received is valid against the official contract',
	sentOnlyForItems: 'every check-in sent carries the number of an item whose phone is a valid mobile number',
	atMostTwice: 'no item\'s check-in reaches Vipps more than twice',
	sentAsAsked: 'every check-in carries the Is Member and the Merchant Serial Number of an item with its number; a sent item reports them',
	reportedSentWasReceived: 'every item reported sent was answered 2xx by the simulator, with its own number',
	answeredReportedSent: 'every item the simulator answered 2xx is reported sent (or the node stopped, or the item says it may have arrived)',
	failureFields: 'every error item carries error and details, with details.attempts, details.possibleDuplicate (and phoneNumber, isMember when the item got that far)',
	noSecrets: 'no client secret, subscription key or issued token in any output, error or log line',
	dryNeverSent: 'an item whose Dry Run is not clearly false is never sent; a valid one is described',
	continueNeverThrows: 'under a Continue setting the node throws nothing',
	ownErrorsOnly: 'under Continue, a valid item with no fault of its own is not failed by another item\'s input or faults',
	stopTellsDelivered: 'Stop Workflow after a send says how many check-ins were delivered before the stop',
	closedGatewayAtOnce: 'a closed gateway (Retry-After: 1 hour) fails each item at once, at most one request each, naming when it reopens',
	skipRepeatsRemembers: 'with Skip Repeats, a check-in that may have arrived (2xx, or no answer, or 502–504) is not sent again by the next run',
	cancelStops: 'a cancelled execution ends within 3 s and starts no check-in (nor a first token request) after the cancel',
	noUnhandledRejection: 'no promise of the node rejects with no one to handle it (that ends a Node process); seen by npm run fuzz, not under Jest, which takes such events for itself',
} as const;

export type InvariantName = keyof typeof INVARIANTS;
export const INVARIANT_NAMES = Object.keys(INVARIANTS) as InvariantName[];

export interface Violation {
	invariant: InvariantName;
	message: string;
}

// ---------------------------------------------------------------------------------------------
// Facts

/** Batch options the node must accept (each read once, each on its own). */
export function batchOptionsValid(options: Record<string, unknown>): boolean {
	const { concurrency, maxRequestsPerSecond, skipRepeats, skipRepeatsMinutes } = options;
	if ('concurrency' in options && !(typeof concurrency === 'number' && Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 128)) return false;
	if ('maxRequestsPerSecond' in options && !(typeof maxRequestsPerSecond === 'number' && maxRequestsPerSecond >= 0)) return false;
	if (timeoutOf(options) === undefined) return false;
	if ('skipRepeats' in options && !['off', 'sameHour', 'sameDay', 'minutes'].includes(skipRepeats as string)) return false;
	if (skipRepeats === 'minutes' && 'skipRepeatsMinutes' in options && !(typeof skipRepeatsMinutes === 'number' && skipRepeatsMinutes > 0)) return false;
	return true;
}

/** Everything about the item reads as valid: it gets as far as a send (or a description, under Dry Run). */
function preparedFully(planned: PlannedItem): boolean {
	return planned.phoneValid && planned.isMember !== undefined && planned.msnValid && planned.dry !== 'unclear';
}

const isOk = (r: RecordedRequest) => r.status >= 200 && r.status < 300;
/** May have reached the check-in API: not refused at the gateway (429, a refused token) nor dropped unread. */
const mayHaveReached = (r: RecordedRequest) => r.status !== 429 && r.status !== 401 && r.fault !== 'dropped';

function pairedIndex(item: INodeExecutionData): number | undefined {
	const paired = item.pairedItem;
	if (typeof paired === 'number') return paired;
	const first = Array.isArray(paired) ? (paired.length === 1 ? paired[0] : undefined) : paired;
	return typeof first?.item === 'number' ? first.item : undefined;
}

function isErrorItem(item: INodeExecutionData): boolean {
	return item.error !== undefined || 'error' in item.json;
}

function reportedSent(item: INodeExecutionData): boolean {
	return !isErrorItem(item) && 'checkInId' in item.json && item.json.dryRun !== true && item.json.skipped !== true;
}

/**
 * An item's facts: a sent item carries them as fields, an error item in `details` (n8n moves an
 * item to the error output only when its json holds nothing but error, message and details).
 */
function itemFacts(item: INodeExecutionData): Record<string, unknown> {
	const { details } = item.json;
	return isErrorItem(item) && typeof details === 'object' && details !== null ? (details as Record<string, unknown>) : item.json;
}

/** The item says its check-in may have reached Vipps: `possibleDuplicate: true`. */
function saysMayHaveArrived(item: INodeExecutionData): boolean {
	return itemFacts(item).possibleDuplicate === true;
}

function countBy<T>(values: T[]): Map<T, number> {
	const counts = new Map<T, number>();
	for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
	return counts;
}

const short = (value: unknown) => JSON.stringify(value)?.slice(0, 300);

interface Facts {
	obs: Observation;
	fuzzCase: FuzzCase;
	n: number;
	optionsValid: boolean;
	stopped: boolean;
	/** Output item of each input index, when there is exactly one. */
	outputOf: Map<number, INodeExecutionData>;
	allOutputs: INodeExecutionData[];
	/** Items by the MSISDN their sends carry. */
	itemsByNumber: Map<string, PlannedItem[]>;
}

function factsOf(obs: Observation): Facts {
	const allOutputs = [...obs.success, ...obs.errorOutput];
	const outputOf = new Map<number, INodeExecutionData>();
	const seen = countBy(allOutputs.map(pairedIndex));
	for (const item of allOutputs) {
		const index = pairedIndex(item);
		if (index !== undefined && seen.get(index) === 1) outputOf.set(index, item);
	}
	const itemsByNumber = new Map<string, PlannedItem[]>();
	for (const planned of obs.planned) {
		if (planned.msisdn === undefined) continue;
		itemsByNumber.set(planned.msisdn, [...(itemsByNumber.get(planned.msisdn) ?? []), planned]);
	}
	return {
		obs,
		fuzzCase: obs.fuzzCase,
		n: obs.planned.length,
		optionsValid: batchOptionsValid(obs.fuzzCase.options),
		stopped: obs.error !== undefined,
		outputOf,
		allOutputs,
		itemsByNumber,
	};
}

/**
 * The one departure from the official contracts the project chose on purpose (NOTES §3, simulator
 * README): the access-token contract allows a 4–6 digit Merchant-Serial-Number, sales units made
 * after the MobilePay merger have 7, and the node sends those rather than lock such merchants out.
 */
function documentedDeparture(request: RecordedRequest, error: string): boolean {
	return (
		request.path === PATHS.accessToken &&
		error.startsWith('/header/merchant-serial-number ') &&
		/^[0-9]{7}$/.test(request.headers['merchant-serial-number'] ?? '')
	);
}

// ---------------------------------------------------------------------------------------------
// Invariants: each returns what it found wrong.

type Check = (facts: Facts) => string[];

const checks: Record<Exclude<InvariantName, 'finishesInTime'>, Check> = {
	onePerInput({ obs, n, fuzzCase }) {
		const problems: string[] = [];
		const { success, errorOutput, error } = obs;
		if (fuzzCase.onError === 'stopWorkflow') {
			if (error) {
				if (success.length || errorOutput.length) problems.push(`stopped with an error, yet put out ${success.length} + ${errorOutput.length} items`);
			} else {
				if (success.length !== n) problems.push(`${n} inputs, ${success.length} outputs`);
				const errors = success.filter(isErrorItem).map(pairedIndex);
				if (errors.length) problems.push(`under Stop Workflow, error items instead of a stop: items ${errors.join(', ')}`);
				if (errorOutput.length) problems.push(`${errorOutput.length} items on an error output under Stop Workflow`);
			}
			return problems;
		}
		if (error) return [`the node threw under ${fuzzCase.onError}: ${error.message}`];
		if (fuzzCase.onError === 'continueRegularOutput') {
			if (success.length !== n) problems.push(`${n} inputs, ${success.length} outputs`);
			if (errorOutput.length) problems.push(`${errorOutput.length} items on the error output under Continue (using regular output)`);
			return problems;
		}
		const indexes = [...success, ...errorOutput].map(pairedIndex);
		const counts = countBy(indexes);
		for (let i = 0; i < n; i++) if (counts.get(i) !== 1) problems.push(`input ${i} has ${counts.get(i) ?? 0} output items`);
		if (indexes.length !== n) problems.push(`${n} inputs, ${indexes.length} outputs`);
		const misplacedErrors = success.filter(isErrorItem).map(pairedIndex);
		if (misplacedErrors.length) problems.push(`error items on the success output: items ${misplacedErrors.join(', ')}`);
		const misplacedSuccesses = errorOutput.filter((item) => !isErrorItem(item)).map(pairedIndex);
		if (misplacedSuccesses.length) problems.push(`items without an error on the error output: items ${misplacedSuccesses.join(', ')}`);
		return problems;
	},

	pairedInOrder({ obs, fuzzCase }) {
		const problems: string[] = [];
		const ascending = (items: INodeExecutionData[], what: string) => {
			const indexes = items.map(pairedIndex);
			if (indexes.some((index) => index === undefined)) problems.push(`${what}: an item without a pairedItem (${short(items.map((i) => i.pairedItem))})`);
			for (let k = 1; k < indexes.length; k++) {
				if ((indexes[k] ?? -1) <= (indexes[k - 1] ?? -1)) problems.push(`${what} out of input order: ${short(indexes)}`);
			}
		};
		ascending(obs.success, 'success output');
		ascending(obs.errorOutput, 'error output');
		if (fuzzCase.onError !== 'continueErrorOutput' && !obs.error) {
			obs.success.forEach((item, k) => {
				if (pairedIndex(item) !== k) problems.push(`output ${k} is paired to ${short(item.pairedItem)}`);
			});
		}
		return [...new Set(problems)];
	},

	stopNamesItem({ obs, fuzzCase, n, optionsValid }) {
		if (fuzzCase.onError !== 'stopWorkflow' || !obs.error || !optionsValid) return [];
		const index = obs.error.context?.itemIndex ?? obs.error.itemIndex;
		return typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < n
			? []
			: [`the stop names no item (itemIndex ${short(index)}): ${obs.error.message}`];
	},

	contract({ obs }) {
		return [...obs.requests, ...(obs.second?.requests ?? [])].flatMap((request) => {
			const errors = validateAgainstContract(request).errors.filter((error) => !documentedDeparture(request, error));
			return errors.length === 0 ? [] : [`#${request.seq} ${request.method} ${request.path} ${request.rawBody.slice(0, 120)}: ${errors.join('; ')}`];
		});
	},

	sentOnlyForItems({ obs, itemsByNumber }) {
		const numbers = new Set(obs.checkIns.map(phoneNumberOf));
		return [...numbers].filter((number) => typeof number !== 'string' || !itemsByNumber.has(number)).map((number) => `a check-in for ${short(number)}, which no valid item carries`);
	},

	atMostTwice({ obs, itemsByNumber }) {
		const reached = countBy(obs.checkIns.filter(mayHaveReached).map(phoneNumberOf));
		const problems: string[] = [];
		for (const [number, count] of reached) {
			const items = typeof number === 'string' ? (itemsByNumber.get(number)?.length ?? 0) : 0;
			if (count > 2 * Math.max(items, 1)) problems.push(`${number}: ${count} check-ins may have reached Vipps for ${items} item(s)`);
		}
		return problems;
	},

	sentAsAsked({ obs, itemsByNumber, outputOf }) {
		const problems: string[] = [];
		for (const request of obs.checkIns) {
			const items = itemsByNumber.get(phoneNumberOf(request) as string) ?? [];
			if (items.length === 0 || items.some((p) => p.isMember === undefined || p.msn === undefined)) continue;
			const isMember = (request.body as { isMember?: unknown } | undefined)?.isMember;
			const msn = request.headers['merchant-serial-number'];
			if (!items.some((p) => p.isMember === isMember && p.msn === msn)) {
				problems.push(`#${request.seq} ${short(request.body)} MSN ${short(msn)}: no item with this number asked for that (${short(items.map((p) => ({ isMember: p.isMember, msn: p.msn })))})`);
			}
		}
		for (const planned of obs.planned) {
			const output = outputOf.get(planned.index);
			if (!output || !reportedSent(output) || planned.isMember === undefined || planned.msn === undefined) continue;
			if (output.json.isMember !== planned.isMember || output.json.merchantSerialNumber !== planned.msn) {
				problems.push(`item ${planned.index} reports isMember ${short(output.json.isMember)}, MSN ${short(output.json.merchantSerialNumber)}; it asked for ${planned.isMember}, ${planned.msn}`);
			}
		}
		return problems;
	},

	reportedSentWasReceived({ obs, outputOf }) {
		const problems: string[] = [];
		const ok = countBy(obs.checkIns.filter(isOk).map(phoneNumberOf));
		const sent = new Map<string, number>();
		for (const planned of obs.planned) {
			const output = outputOf.get(planned.index);
			if (!output || !reportedSent(output)) continue;
			const number = output.json.phoneNumber;
			if (number !== planned.msisdn) problems.push(`item ${planned.index} reported sent for ${short(number)}, its number is ${short(planned.msisdn)}`);
			if (typeof number === 'string') sent.set(number, (sent.get(number) ?? 0) + 1);
		}
		for (const [number, count] of sent) {
			if (count > (ok.get(number) ?? 0)) problems.push(`${count} item(s) reported sent for ${number}, the simulator answered ${ok.get(number) ?? 0} with 2xx`);
		}
		return problems;
	},

	answeredReportedSent({ obs, stopped, itemsByNumber, outputOf }) {
		if (stopped) return [];
		const problems: string[] = [];
		const ok = countBy(obs.checkIns.filter(isOk).map(phoneNumberOf));
		for (const [number, count] of ok) {
			const items = typeof number === 'string' ? (itemsByNumber.get(number) ?? []) : [];
			const outputs = items.map((planned) => outputOf.get(planned.index));
			// How many 2xx the items can account for. A 2xx can be lost on its way (the Timeout struck as
			// it came): an item that says its check-in may have arrived (a possible duplicate, sent or
			// failed) may have had two; one reported sent with no such doubt, one; any other, none.
			const accounted = outputs.reduce((sum, output) => {
				if (!output) return sum;
				if (reportedSent(output)) return sum + (saysMayHaveArrived(output) ? 2 : 1);
				return sum + (isErrorItem(output) && saysMayHaveArrived(output) ? 2 : 0);
			}, 0);
			if (count > accounted) {
				problems.push(`${number}: the simulator answered ${count} check-in(s) with 2xx; the items account for ${accounted} (${short(outputs.map((o) => o?.json))})`);
			}
		}
		return problems;
	},

	failureFields({ obs, optionsValid, outputOf }) {
		const problems: string[] = [];
		for (const planned of obs.planned) {
			const output = outputOf.get(planned.index);
			if (!output || !isErrorItem(output)) continue;
			const { json } = output;
			const facts = itemFacts(output);
			const missing: string[] = [];
			if (typeof json.error !== 'string' || json.error === '') missing.push('error');
			if (typeof json.details !== 'object' || json.details === null) missing.push('details');
			if (!(typeof facts.attempts === 'number' && Number.isInteger(facts.attempts) && facts.attempts >= 0)) missing.push('details.attempts');
			if (typeof facts.possibleDuplicate !== 'boolean') missing.push('details.possibleDuplicate');
			if (optionsValid && preparedFully(planned) && planned.dry === 'no') {
				if (facts.phoneNumber !== planned.msisdn) missing.push(`details.phoneNumber ${short(planned.msisdn)}`);
				if (facts.isMember !== planned.isMember) missing.push(`details.isMember ${planned.isMember}`);
			}
			if (missing.length) problems.push(`item ${planned.index}: ${missing.join(', ')} missing or wrong in ${short(json)}`);
		}
		return problems;
	},

	noSecrets({ obs }) {
		return obs.secrets.filter((secret) => secret !== '' && obs.visible.includes(secret)).map((secret) => `a secret or token (${secret.slice(0, 6)}…) is visible`);
	},

	dryNeverSent({ obs, itemsByNumber, optionsValid, outputOf }) {
		const problems: string[] = [];
		const requested = countBy(obs.checkIns.map(phoneNumberOf));
		for (const [number, items] of itemsByNumber) {
			if (items.every((planned) => planned.dry !== 'no') && requested.has(number)) {
				problems.push(`${number}: sent ${requested.get(number)} time(s), but Dry Run of item(s) ${items.map((p) => `${p.index} is ${p.dry}`).join(', ')}`);
			}
		}
		if (optionsValid && !obs.error) {
			for (const planned of obs.planned) {
				if (planned.dry !== 'yes' || !preparedFully(planned)) continue;
				const output = outputOf.get(planned.index);
				if (output && output.json.dryRun !== true) problems.push(`item ${planned.index} is a Dry Run but its output is ${short(output.json)}`);
			}
		}
		return problems;
	},

	continueNeverThrows({ obs, fuzzCase }) {
		if (fuzzCase.onError === 'stopWorkflow') return [];
		return [obs.error, obs.second?.error].filter((error) => error !== undefined).map((error) => `${fuzzCase.onError}: the node threw ${error.message}`);
	},

	noUnhandledRejection({ obs }) {
		return (obs.unhandledRejections ?? []).map((text) => `unhandled rejection: ${text.slice(0, 400)}`);
	},

	cancelStops({ obs }) {
		if (obs.cancelledAt === undefined) return [];
		const problems: string[] = [];
		const endedAfter = obs.startedAt + obs.elapsedMs - obs.cancelledAt;
		if (endedAfter > 3_000) problems.push(`ended ${endedAfter} ms after the cancel`);
		// A request already on its way when the cancel came may still arrive: 250 ms of slack.
		const late = obs.checkIns.filter((r) => r.receivedAt > obs.cancelledAt! + 250);
		if (late.length) problems.push(`${late.length} check-in(s) arrived ${late.map((r) => r.receivedAt - obs.cancelledAt!).join(', ')} ms after the cancel`);
		// The token request is shared and may go on retrying past a cancel; but one the execution had not started by then, it must not start.
		// (Connections refused before a byte was read leave attempts the log never saw: then the first one logged may be a retry.)
		const everyAttemptLogged = obs.fuzzCase.refusedConnections === 0 && obs.fuzzCase.closedPortMs === undefined;
		const tokens = obs.requests.filter((r) => r.path === PATHS.accessToken);
		if (everyAttemptLogged && tokens.length && tokens[0].receivedAt > obs.cancelledAt + 250) problems.push(`the first token request arrived ${tokens[0].receivedAt - obs.cancelledAt} ms after the cancel`);
		return problems;
	},

	skipRepeatsRemembers({ obs, fuzzCase, optionsValid }) {
		const { second } = obs;
		const window = fuzzCase.options.skipRepeats;
		if (!second || !optionsValid || !['sameHour', 'sameDay', 'minutes'].includes(window as string)) return [];
		// An hour (or day) that turned between the runs starts a new window: nothing to hold the node to.
		if (window !== 'minutes' && new Date(obs.startedAt).getUTCHours() !== new Date(second.endedAt).getUTCHours()) return [];
		const key = (r: RecordedRequest) => `${String(phoneNumberOf(r))} isMember ${String((r.body as { isMember?: unknown } | undefined)?.isMember)} MSN ${r.headers['merchant-serial-number'] ?? '-'}`;
		const mayHaveArrived = (r: RecordedRequest) => isOk(r) || (r.status === 0 && r.fault !== 'dropped') || (r.status >= 502 && r.status <= 504);
		const arrived = new Set(obs.checkIns.filter(mayHaveArrived).map(key));
		const again = [...new Set(second.checkIns.map(key).filter((k) => arrived.has(k)))];
		return again.map((k) => `${k}: may have arrived in the first run (${short(obs.checkIns.filter((r) => key(r) === k).map((r) => r.fault ?? r.status))}), sent again by the next`);
	},

	ownErrorsOnly({ obs, fuzzCase, optionsValid, itemsByNumber, outputOf }) {
		const quiet =
			fuzzCase.onError !== 'stopWorkflow' &&
			optionsValid &&
			!timeoutIsSmall(fuzzCase.options) &&
			fuzzCase.tokenFaults.length === 0 &&
			fuzzCase.refusedConnections === 0 &&
			fuzzCase.closedPortMs === undefined &&
			!fuzzCase.closedGateway;
		if (!quiet || obs.error) return [];
		const problems: string[] = [];
		// Faults key on a number: an item refused before sending leaves its faults to any item that shares its number.
		const faulted = new Set(obs.planned.filter((planned) => fuzzCase.items[planned.index].faults.length > 0).map((planned) => planned.national));
		for (const planned of obs.planned) {
			if (!preparedFully(planned) || faulted.has(planned.national) || (itemsByNumber.get(planned.msisdn!)?.length ?? 0) !== 1) continue;
			const output = outputOf.get(planned.index);
			if (output && isErrorItem(output)) problems.push(`item ${planned.index} is valid and had no fault, yet failed: ${short(output.json)}`);
		}
		return problems;
	},

	stopTellsDelivered({ obs, fuzzCase, itemsByNumber }) {
		if (fuzzCase.onError !== 'stopWorkflow' || !obs.error || obs.checkIns.length === 0) return [];
		// Check-ins, not people: two items with one number are two check-ins; a number's 2xx beyond
		// its items are resends whose first 2xx was lost (the node counts the item once).
		let delivered = 0;
		for (const [number, count] of countBy(obs.checkIns.filter(isOk).map(phoneNumberOf))) {
			delivered += Math.min(count, typeof number === 'string' ? (itemsByNumber.get(number)?.length ?? 0) : 0);
		}
		const text = `${obs.error.message} ${obs.error.description ?? ''}`;
		// The count stands in a sentence about what was delivered (or sent), e.g. "3 check-ins were delivered before the stop".
		const sentences = text.split(/[.;:\n]\s/).filter((sentence) => /deliver|sent|arrived/i.test(sentence));
		const numbers = sentences.flatMap((sentence) => [...sentence.matchAll(/\b(\d+|no|none)\b/gi)].map(([word]) => (/^\d+$/.test(word) ? Number(word) : 0)));
		// With a Timeout of a few hundred ms a busy machine can lose a 2xx on its way (the node then
		// cannot count it): any count up to the simulator's will do. Otherwise the count is exact.
		const says = timeoutIsSmall(fuzzCase.options) ? numbers.some((n) => n <= delivered) : numbers.includes(delivered);
		return says ? [] : [`${delivered} check-in(s) delivered before the stop, the error does not say so: ${short(text)}`];
	},

	closedGatewayAtOnce({ obs, fuzzCase, optionsValid, itemsByNumber, outputOf }) {
		if (!fuzzCase.closedGateway || !optionsValid) return [];
		const problems: string[] = [];
		const requested = countBy(obs.checkIns.map(phoneNumberOf));
		for (const [number, count] of requested) {
			const items = typeof number === 'string' ? (itemsByNumber.get(number)?.length ?? 0) : 0;
			if (count > Math.max(items, 1)) problems.push(`${number}: ${count} requests into a closed gateway for ${items} item(s)`);
		}
		const namesTime = (text: unknown) => typeof text === 'string' && /\d{1,2}:\d{2}/.test(text);
		if (obs.error) {
			if (obs.checkIns.length && !namesTime(`${obs.error.message} ${obs.error.description ?? ''}`)) problems.push(`the stop does not say when the gateway reopens: ${obs.error.message}`);
		} else {
			for (const planned of obs.planned) {
				const output = outputOf.get(planned.index);
				// Only an item that got as far as a send; another item with its number may have been sent.
				const sentFor = preparedFully(planned) && planned.msisdn !== undefined && requested.has(planned.msisdn);
				if (output && isErrorItem(output) && sentFor && !namesTime(output.json.error)) problems.push(`item ${planned.index}: the error does not say when the gateway reopens: ${short(output.json.error)}`);
			}
		}
		if (obs.elapsedMs > 10_000) problems.push(`took ${obs.elapsedMs} ms`);
		return problems;
	},
};

/** What still holds for an execution cancelled while it ran. */
const JUDGED_AFTER_CANCEL = new Set<InvariantName>([
	'contract',
	'sentOnlyForItems',
	'atMostTwice',
	'sentAsAsked',
	'noSecrets',
	'dryNeverSent',
	'cancelStops',
	'noUnhandledRejection',
	'skipRepeatsRemembers',
]);

/** Every invariant not in `skip`, on one observation. Returns the violations and how many invariants were checked. */
export function checkInvariants(obs: Observation, skip: ReadonlySet<string> = new Set()): { violations: Violation[]; checked: number } {
	if (obs.refusedByN8n !== undefined) {
		// n8n refused the workflow before it ran: the node's promises do not come into it, but nothing may have been sent.
		const sent = obs.requests.length ? [{ invariant: 'onePerInput' as const, message: `n8n refused to run the workflow (${obs.refusedByN8n}), yet ${obs.requests.length} request(s) went out` }] : [];
		return { violations: sent.filter((v) => !skip.has(v.invariant)), checked: 1 };
	}
	if (!obs.run) {
		return {
			violations: skip.has('finishesInTime') ? [] : [{ invariant: 'finishesInTime', message: `still running after ${obs.elapsedMs} ms; cancelled` }],
			checked: 1,
		};
	}
	if (obs.second && !obs.second.run && !skip.has('finishesInTime')) {
		return { violations: [{ invariant: 'finishesInTime', message: 'the second run was still running after 10 s; cancelled' }], checked: 1 };
	}
	const facts = factsOf(obs);
	const violations: Violation[] = [];
	let checked = 1;
	for (const name of Object.keys(checks) as Array<keyof typeof checks>) {
		if (skip.has(name)) continue;
		// A cancelled execution puts out nothing and ends with n8n's cancel error: only what it sent is judged.
		if (obs.cancelledAt !== undefined && !JUDGED_AFTER_CANCEL.has(name)) continue;
		checked++;
		for (const message of checks[name](facts)) violations.push({ invariant: name, message });
	}
	return { violations, checked };
}
