/**
 * Runs one generated case through n8n's engine (harness/runWorkflow.ts) against a simulator of its
 * own on loopback, and keeps what there is to judge: the node's output, the error that stopped the
 * workflow, what the simulator received and answered, every log line n8n wrote, and the time.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import nodeProcess from 'node:process';
import { inspect } from 'node:util';

import { Logger } from '@n8n/backend-common';
import type { IDataObject, INode, INodeExecutionData, INodeParameters } from 'n8n-workflow';

import { throwExpressionErrors } from '../../harness/expressionErrors';
import { processedData, startWorkflow, type HarnessCredential, type WorkflowJson, type WorkflowRun } from '../../harness/runWorkflow';
import { PATHS, SIMULATOR_MERCHANT_SERIAL_NUMBER, VippsSimulator, type Fault, type RecordedRequest } from '../../simulator/VippsSimulator';
import {
	CLEAR_NO,
	CLEAR_YES,
	INVALID_MSNS,
	VALID_MSNS,
	timeoutOf,
	type FuzzCase,
	type FuzzItem,
	type PhoneSpec,
	type Slot,
	type ValidPhoneFormat,
} from './model';

export const VIPPS_NODE = 'Vipps Check-in';
const INPUT_NODE = 'Input';
const CREDENTIAL_ID = 'fuzz-credential';

// ---------------------------------------------------------------------------------------------
// Every log line n8n writes, whatever the log level: n8n's Logger sends each call through `log`
// (silent or not), and n8n-workflow's LoggerProxy goes to the same Logger. Cases may run side by
// side: a line goes to the case whose execution wrote it, or, when that cannot be told, to every
// case running.

const caseLogs = new AsyncLocalStorage<string[]>();
const runningCaseLogs = new Set<string[]>();
let logCapturing = false;

// A promise that rejects with no one to handle it ends a Node process (n8n's too, unless it
// catches them). Each goes to the case whose simulator address its text mentions, else to every
// case running (one, with --parallel 1); one that comes when no case runs is kept for the report.
const rejectionsByAddress = new Map<string, string[]>();
export const unattributedRejections: string[] = [];

function onUnhandledRejection(reason: unknown): void {
	const text = reason instanceof Error ? `${reason.name}: ${reason.message} ${inspect(reason, { depth: 4, breakLength: Infinity })}` : inspect(reason);
	const named = [...rejectionsByAddress.keys()].filter((address) => text.includes(address));
	const owners = named.length ? named : [...rejectionsByAddress.keys()];
	if (owners.length === 0) unattributedRejections.push(text);
	for (const address of owners) rejectionsByAddress.get(address)!.push(text);
}

function captureLogs(): void {
	if (logCapturing) return;
	logCapturing = true;

	// As in a user's n8n, whose VM expression engine throws what the harness's legacy one would turn into null.
	throwExpressionErrors();
	const prototype = Logger.prototype as unknown as { log: (level: string, message: string, metadata: object) => void };
	const original = prototype.log;
	prototype.log = function (this: unknown, level: string, message: string, metadata: object) {
		const line = `${level} ${message} ${inspect(metadata, { depth: 8, breakLength: Infinity })}`;
		const own = caseLogs.getStore();
		for (const lines of own ? [own] : runningCaseLogs) lines.push(line);
		original.call(this, level, message, metadata);
	};
}

// ---------------------------------------------------------------------------------------------
// Numbers: every item gets a national number of its own (8 digits, starting with 9), never
// given twice in this process, so no case meets an earlier case's Skip Repeats records.

let numbersGiven = 0;
let casesRun = 0;

function freshNationalNumber(): string {
	const n = numbersGiven++ % 10_000_000;
	return `9${String(n).padStart(7, '0')}`;
}

const grouped = (n: string) => `${n.slice(0, 3)} ${n.slice(3, 5)} ${n.slice(5)}`;
const inScript = (n: string, zero: number) => [...n].map((d) => String.fromCharCode(zero + Number(d))).join('');

export function renderValid(national: string, format: ValidPhoneFormat): unknown {
	switch (format) {
		case 'national':
			return national;
		case '47national':
			return `47${national}`;
		case '+47national':
			return `+47${national}`;
		case '+47 grouped':
			return `+47 ${grouped(national)}`;
		case '0047 national':
			return `0047 ${national}`;
		case '(+47) dashed':
			return `(+47) ${grouped(national).replace(/ /g, '-')}`;
		case 'grouped':
			return grouped(national);
		case 'pairs':
			return national.replace(/(\d\d)(?=\d)/g, '$1 ');
		case 'dotted':
			return grouped(national).replace(/ /g, '.');
		case 'nbsp grouped':
			return `+47\u00a0${grouped(national).replace(/ /g, '\u00a0')}`;
		case 'number':
			return Number(national);
		case 'number 47national':
			return Number(`47${national}`);
		case 'padded':
			return `  +47 ${national}  `;
		case '+47-dashed':
			return `+47-${grouped(national).replace(/ /g, '-')}`;
	}
}

/** An invalid shape, written from the item's own number where it has digits, so a send of it would still be counted for the item. */
function renderInvalid(national: string, shape: Extract<PhoneSpec, { invalid: unknown }>['invalid']): Slot {
	const landline = `2${national.slice(1)}`;
	const value = ((): unknown => {
		switch (shape) {
			case 'landline':
				return landline;
			case 'landline number':
				return Number(landline);
			case '+47 landline':
				return `+47 ${landline}`;
			case 'foreign':
				return `+45 ${national}`;
			case 'foreign 00':
				return `0046${national}`;
			case 'too short':
				return national.slice(0, 7);
			case '+47 too short':
				return `+47 ${national.slice(0, 7)}`;
			case 'too long':
				return `${national}1`;
			case 'trunk zero':
				return `0${national}`;
			case 'text':
				return 'ring meg';
			case 'empty':
				return '';
			case 'blank':
				return '   ';
			case 'full-width digits':
				return inScript(national, 0xff10);
			case 'Arabic-Indic digits':
				return inScript(national, 0x0660);
			case 'mixed-script digits':
				return national.slice(0, 4) + inScript(national.slice(4), 0xff10);
			case 'negative number':
				return -Number(national);
			case 'fractional number':
				return Number(national) + 0.5;
			case 'small number':
				return 1234;
			case 'null':
				return null;
			case 'object':
				return { number: national };
			case 'list':
				return [national];
			case 'boolean':
				return true;
			case 'absent':
				return undefined;
		}
	})();
	return shape === 'absent' ? { absent: true } : { value };
}

// ---------------------------------------------------------------------------------------------
// What each item is, by the node's documented rules: the strict invariants (failure fields, own
// errors only) apply only where this is certain.

export type YesNoClass = 'yes' | 'no' | 'unclear';

export interface PlannedItem {
	index: number;
	/** The item's own national number (8 digits). */
	national: string;
	/** The MSISDN a send for this item carries, when its phone is a valid number as the parameter reads it. */
	msisdn: string | undefined;
	/** The item as the trigger hands it over. */
	json: IDataObject;
	/** True when the Phone Number parameter certainly gives a valid mobile number for this item. */
	phoneValid: boolean;
	/** The Is Member value, when it is certainly valid. */
	isMember: boolean | undefined;
	/** True when the Merchant Serial Number option certainly reads as valid (or empty) for this item. */
	msnValid: boolean;
	/** The Merchant-Serial-Number a send for this item carries (the option's, else the credential's), when msnValid. */
	msn: string | undefined;
	/** How Dry Run reads for this item. */
	dry: YesNoClass;
}

function classify(value: unknown): YesNoClass {
	const same = (candidate: unknown) => candidate === value;
	if (CLEAR_YES.some(same)) return 'yes';
	if (CLEAR_NO.some(same)) return 'no';
	return 'unclear';
}

const valueOf = (slot: Slot): unknown => ('value' in slot ? slot.value : undefined);

function msnValidFor(fuzzCase: FuzzCase, item: FuzzItem): boolean {
	const option = fuzzCase.msnOption;
	if ('absent' in option) return true;
	if ('plain' in option) return /^\d{4,7}$/.test(option.plain);
	if (option.expression === 'msn') {
		const value = valueOf(item.msn);
		// An expression that gives nothing fails its item: sent under the credential's MSN it could check in at another shop.
		if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return false;
		if (VALID_MSNS.includes(value as string)) return true;
		if (INVALID_MSNS.some((invalid) => invalid === value)) return false;
		return false;
	}
	const shop = valueOf(item.shop) as { msn?: unknown } | undefined;
	return typeof shop?.msn === 'string' && /^\d{4,7}$/.test(shop.msn.trim());
}

function expectedMsn(fuzzCase: FuzzCase, item: FuzzItem): string {
	const option = fuzzCase.msnOption;
	const given = 'absent' in option ? undefined : 'plain' in option ? option.plain : option.expression === 'msn' ? valueOf(item.msn) : (valueOf(item.shop) as { msn?: unknown }).msn;
	const text = given === undefined || given === null ? '' : String(given).trim();
	return text === '' ? SIMULATOR_MERCHANT_SERIAL_NUMBER : text;
}

function isValidSpec(spec: PhoneSpec): boolean {
	return !('invalid' in spec);
}

export function planItems(fuzzCase: FuzzCase): PlannedItem[] {
	const nationals = fuzzCase.items.map(() => freshNationalNumber());
	const phoneOf = (index: number): { national: string; slot: Slot; valid: boolean } => {
		const spec = fuzzCase.items[index].phone;
		if ('valid' in spec) return { national: nationals[index], slot: { value: renderValid(nationals[index], spec.valid) }, valid: true };
		if ('sameAs' in spec) {
			const target = index === 0 ? 0 : spec.sameAs % index;
			return { national: nationals[target], slot: { value: renderValid(nationals[target], spec.format) }, valid: true };
		}
		return { national: nationals[index], slot: renderInvalid(nationals[index], spec.invalid), valid: false };
	};
	const phones = fuzzCase.items.map((_, index) => phoneOf(index));
	return fuzzCase.items.map((item, index) => {
		const own = phones[index];
		const json: IDataObject = {};
		if ('value' in own.slot) json.phone = own.slot.value as IDataObject[string];
		for (const field of ['member', 'msn', 'shop', 'dry'] as const) {
			if ('value' in item[field]) json[field] = (item[field] as { value: unknown }).value as IDataObject[string];
		}
		// What the Phone Number parameter gives for this item.
		let phoneValid: boolean;
		let national: string;
		if (fuzzCase.phoneParameter === 'plain') {
			// Typed in, item 0's phone is text: a negative number becomes "-90017262", whose dash the
			// node strips as a separator (helpers/phoneNumber.ts), so it is a valid number there.
			const first = fuzzCase.items[0].phone;
			phoneValid = isValidSpec(first) || ('invalid' in first && first.invalid === 'negative number');
			national = phones[0].national;
		} else if (fuzzCase.phoneParameter === 'trim') {
			phoneValid = own.valid && typeof valueOf(own.slot) === 'string';
			national = own.national;
		} else {
			phoneValid = own.valid;
			national = own.national;
		}
		const member = 'plain' in fuzzCase.memberParameter ? fuzzCase.memberParameter.plain : valueOf(item.member);
		const memberClass = member === 'member' ? 'yes' : classify(member);
		const dryOption = fuzzCase.dryRunOption;
		const dry: YesNoClass = 'absent' in dryOption ? 'no' : 'plain' in dryOption ? (dryOption.plain ? 'yes' : 'no') : classify(valueOf(item.dry));
		return {
			index,
			national,
			msisdn: phoneValid ? `47${national}` : undefined,
			json,
			phoneValid,
			isMember: memberClass === 'unclear' ? undefined : memberClass === 'yes',
			msnValid: msnValidFor(fuzzCase, item),
			msn: msnValidFor(fuzzCase, item) ? expectedMsn(fuzzCase, item) : undefined,
			dry,
		};
	});
}

/** The plain Phone Number a user typed: item 0's phone as text. */
function plainPhone(planned: PlannedItem[]): string {
	const phone = planned[0].json.phone;
	return phone === undefined || phone === null ? '' : typeof phone === 'object' ? JSON.stringify(phone) : String(phone);
}

/**
 * `caseNumber` names the node's id: n8n keeps Skip Repeats records per workflow and node, so cases
 * running side by side keep theirs apart.
 */
export function workflowFor(fuzzCase: FuzzCase, planned: PlannedItem[], caseNumber = 0): WorkflowJson {
	const options: IDataObject = { ...(fuzzCase.options as IDataObject) };
	const { msnOption, dryRunOption } = fuzzCase;
	if ('plain' in msnOption) options.merchantSerialNumber = msnOption.plain;
	if ('expression' in msnOption) options.merchantSerialNumber = `={{ $json.${msnOption.expression} }}`;
	if ('plain' in dryRunOption) options.dryRun = dryRunOption.plain;
	if ('expression' in dryRunOption) options.dryRun = '={{ $json.dry }}';
	const phoneNumber =
		fuzzCase.phoneParameter === 'expression'
			? '={{ $json.phone }}'
			: fuzzCase.phoneParameter === 'trim'
				? '={{ $json.phone.trim() }}'
				: plainPhone(planned);
	const isMember = 'plain' in fuzzCase.memberParameter ? fuzzCase.memberParameter.plain : '={{ $json.member }}';
	const vipps: INode = {
		id: `vipps-${caseNumber}`,
		name: VIPPS_NODE,
		type: 'n8n-nodes-vipps-checkin.vippsCheckIn',
		typeVersion: 1,
		position: [220, 0],
		parameters: { resource: 'checkIn', operation: 'send', phoneNumber, isMember, options } as INodeParameters,
		credentials: { vippsMobilePayApi: { id: CREDENTIAL_ID, name: 'Vipps simulator' } },
		onError: fuzzCase.onError,
	};
	return {
		name: 'property-based case',
		nodes: [{ id: 'input', name: INPUT_NODE, type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} }, vipps],
		connections: { [INPUT_NODE]: { main: [[{ node: VIPPS_NODE, type: 'main', index: 0 }]] } },
		pinData: { [INPUT_NODE]: planned.map(({ json }) => ({ json })) },
	};
}

// ---------------------------------------------------------------------------------------------

export interface Observation {
	fuzzCase: FuzzCase;
	planned: PlannedItem[];
	/** Undefined when the case did not finish before its deadline (it was cancelled), or n8n would not run it. */
	run: WorkflowRun | undefined;
	/** n8n refused to run the workflow at all (WorkflowHasIssuesError, e.g. a required parameter left empty): the node never ran. */
	refusedByN8n?: string;
	success: INodeExecutionData[];
	errorOutput: INodeExecutionData[];
	error: (Error & { description?: string; context?: { itemIndex?: number }; itemIndex?: number }) | undefined;
	/** What the simulator received in the (first) run. */
	requests: RecordedRequest[];
	checkIns: RecordedRequest[];
	/** The second run of the same node and items, with no fault (FuzzCase.secondRun). */
	second?: {
		run: WorkflowRun | undefined;
		success: INodeExecutionData[];
		errorOutput: INodeExecutionData[];
		error: Observation['error'];
		requests: RecordedRequest[];
		checkIns: RecordedRequest[];
		startedAt: number;
		endedAt: number;
	};
	/** When the first run started (epoch ms). */
	startedAt: number;
	/** When the (first) run was cancelled, if the cancel came while it ran (FuzzCase.cancelAfterMs). */
	cancelledAt?: number;
	/** Promise rejections no one handled, that name this case's simulator. */
	unhandledRejections?: string[];
	secrets: string[];
	/** Everything a user or an execution log could see: the run data, the error, n8n's log lines. */
	visible: string;
	logLines: string[];
	elapsedMs: number;
	refusedConnections: number;
}

export interface RunCaseOptions {
	/** A case still running after this long is cancelled and fails the invariant `finishesInTime`. Default deadlineFor(case). */
	deadlineMs?: number;
}

/**
 * How long a case may take before it counts as hanging: a few seconds for n8n and the machine, plus
 * the worst the node may spend on each injected fault if it meets them one after another
 * (Retry-After, the Timeout, backoff). A closed gateway must be answered at once, so it adds nothing.
 */
export function deadlineFor(fuzzCase: FuzzCase): number {
	const timeout = timeoutOf(fuzzCase.options) ?? 0;
	const cost = (fault: Fault): number => {
		switch (fault.kind) {
			case 'status':
				return fault.status === 429 ? ((fault.retryAfterSeconds ?? 1) + 1) * 1000 : 1_500;
			case 'hang':
				return (fault.ms ?? timeout) + 1_500;
			case 'partialBody':
				return (fault.end === 'close' ? 0 : timeout) + 1_500;
			case 'latency':
				return fault.ms;
			default:
				return 1_500;
		}
	};
	const faults = [...fuzzCase.tokenFaults, ...fuzzCase.items.flatMap((item) => item.faults)];
	const connections = (fuzzCase.refusedConnections + (fuzzCase.closedPortMs === undefined ? 0 : 1)) * 5_000 + (fuzzCase.closedPortMs ?? 0);
	return 10_000 + connections + faults.reduce((sum, fault) => sum + cost(fault), 0);
}

export function phoneNumberOf(request: RecordedRequest): unknown {
	const body = request.body as { phoneNumber?: unknown } | undefined;
	return body?.phoneNumber;
}

export async function runCase(fuzzCase: FuzzCase, { deadlineMs = deadlineFor(fuzzCase) }: RunCaseOptions = {}): Promise<Observation> {
	captureLogs();
	// On Node's own process object, at each case: Jest takes every such listener off while a test
	// runs (jest-circus puts its own in their place), so one added when the module loaded would miss.
	if (!nodeProcess.listeners('unhandledRejection').includes(onUnhandledRejection)) nodeProcess.on('unhandledRejection', onUnhandledRejection);
	const caseNumber = ++casesRun;
	const planned = planItems(fuzzCase);
	const simulator = await VippsSimulator.start({
		keys: { clientId: randomUUID(), clientSecret: `secret-${randomUUID()}`, subscriptionKey: `key-${randomUUID()}` },
	});
	const timers: NodeJS.Timeout[] = [];
	const lines: string[] = [];
	runningCaseLogs.add(lines);
	const address = new URL(simulator.baseUrl).host;
	if (fuzzCase.databaseLatencyMs !== undefined) processedData.setLatency(fuzzCase.databaseLatencyMs);
	const unhandledRejections: string[] = [];
	rejectionsByAddress.set(address, unhandledRejections);
	try {
		for (const fault of fuzzCase.tokenFaults) simulator.injectFault({ fault, path: PATHS.accessToken });
		if (fuzzCase.closedGateway) {
			simulator.injectFault({ fault: { kind: 'status', status: 429, retryAfterSeconds: 3600 }, path: PATHS.checkIn, times: Infinity });
		}
		// Each item's faults key on its own number (sent as 47 + its national number, whatever the input's shape).
		fuzzCase.items.forEach((item, index) => {
			const number = `47${ownNational(planned, fuzzCase, index)}`;
			for (const fault of item.faults) simulator.injectFault({ fault, path: PATHS.checkIn, phoneNumber: number });
		});
		simulator.refuseConnections(fuzzCase.refusedConnections);
		if (fuzzCase.closedPortMs !== undefined) {
			simulator.closePort();
			timers.push(setTimeout(() => void simulator.reopenPort().catch(() => undefined), fuzzCase.closedPortMs));
		}
		const credential: HarnessCredential = {
			id: CREDENTIAL_ID,
			name: 'Vipps simulator',
			type: 'vippsMobilePayApi',
			data: simulator.credentialData(),
		};
		const startedAt = Date.now();
		const workflow = workflowFor(fuzzCase, planned, caseNumber);
		let running: ReturnType<typeof startWorkflow>;
		try {
			running = caseLogs.run(lines, () => startWorkflow(workflow, { credentials: [credential] }));
		} catch (error) {
			// n8n's own check before it runs anything, e.g. an empty plain Phone Number ("is required").
			if ((error as Error).name !== 'WorkflowHasIssuesError') throw error;
			return {
				fuzzCase,
				planned,
				run: undefined,
				refusedByN8n: (error as Error).message,
				success: [],
				errorOutput: [],
				error: undefined,
				requests: [...simulator.requests],
				checkIns: [],
				secrets: [simulator.keys.clientSecret, simulator.keys.subscriptionKey, ...simulator.issuedTokens()],
				visible: `${(error as Error).message}\n${lines.join('\n')}`,
				logLines: lines,
				startedAt,
				elapsedMs: Date.now() - startedAt,
				refusedConnections: simulator.refusedConnections,
			};
		}
		let cancelledAt: number | undefined;
		if (fuzzCase.cancelAfterMs !== undefined) {
			timers.push(
				setTimeout(() => {
					cancelledAt = Date.now();
					running.cancel();
				}, fuzzCase.cancelAfterMs),
			);
		}
		const run = await finishOrCancel(running, deadlineMs, timers);
		if (cancelledAt !== undefined && run && run.run.status !== 'canceled') cancelledAt = undefined;
		// What a cancelled node leaves running may still fail: a moment for it to show.
		if (cancelledAt !== undefined) await new Promise((resolve) => timers.push(setTimeout(resolve, 300)));
		const elapsedMs = Date.now() - startedAt;
		const requests = [...simulator.requests];
		const error = run?.error as Observation['error'];
		let visibleRun = run ? everythingVisible(run) : '';
		let second: Observation['second'];
		if (fuzzCase.secondRun && run) {
			simulator.clearFaults();
			await simulator.reopenPort().catch(() => undefined);
			const secondStartedAt = Date.now();
			const again = await finishOrCancel(
				caseLogs.run(lines, () => startWorkflow(workflow, { credentials: [credential] })),
				10_000,
				timers,
			);
			const secondRequests = simulator.requests.slice(requests.length);
			second = {
				run: again,
				success: again?.itemsOf(VIPPS_NODE, 0) ?? [],
				errorOutput: again?.itemsOf(VIPPS_NODE, 1) ?? [],
				error: again?.error as Observation['error'],
				requests: secondRequests,
				checkIns: secondRequests.filter((r) => r.path === PATHS.checkIn),
				startedAt: secondStartedAt,
				endedAt: Date.now(),
			};
			if (again) visibleRun += `\n${everythingVisible(again)}`;
		}
		return {
			fuzzCase,
			planned,
			run,
			success: run?.itemsOf(VIPPS_NODE, 0) ?? [],
			errorOutput: run?.itemsOf(VIPPS_NODE, 1) ?? [],
			error,
			requests,
			checkIns: requests.filter((r) => r.path === PATHS.checkIn),
			secrets: [simulator.keys.clientSecret, simulator.keys.subscriptionKey, ...simulator.issuedTokens()],
			second,
			cancelledAt,
			unhandledRejections,
			visible: `${visibleRun}\n${lines.join('\n')}`,
			logLines: lines,
			startedAt,
			elapsedMs,
			refusedConnections: simulator.refusedConnections,
		};
	} finally {
		runningCaseLogs.delete(lines);
		rejectionsByAddress.delete(address);
		if (fuzzCase.databaseLatencyMs !== undefined) processedData.setLatency(0);
		for (const timer of timers) clearTimeout(timer);
		await simulator.close();
	}
}

/** The run's result, or undefined when it was still running at the deadline (it is then cancelled, and waited for briefly). */
async function finishOrCancel(running: ReturnType<typeof startWorkflow>, deadlineMs: number, timers: NodeJS.Timeout[]): Promise<WorkflowRun | undefined> {
	let timedOut = false;
	const deadline = new Promise<undefined>((resolve) =>
		timers.push(
			setTimeout(() => {
				timedOut = true;
				running.cancel();
				resolve(undefined);
			}, deadlineMs),
		),
	);
	const finished = await Promise.race([running.result, deadline]);
	if (!timedOut) return finished;
	await Promise.race([running.result.catch(() => undefined), new Promise((resolve) => timers.push(setTimeout(resolve, 5_000)))]);
	return undefined;
}

/** The national number an item's own sends would carry (the plain parameter gives every item item 0's). */
function ownNational(planned: PlannedItem[], fuzzCase: FuzzCase, index: number): string {
	return fuzzCase.phoneParameter === 'plain' ? planned[0].national : planned[index].national;
}

/** Everything the run produced, as text: what a user could see or an execution log could keep. */
function everythingVisible(run: WorkflowRun): string {
	const error = run.error as (Error & { description?: string; context?: unknown; cause?: unknown }) | undefined;
	return JSON.stringify({
		runData: run.run.data.resultData.runData,
		error: error && {
			message: error.message,
			description: error.description,
			stack: error.stack,
			context: error.context,
			cause: inspect(error.cause, { depth: 6 }),
		},
	});
}
