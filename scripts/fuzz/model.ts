/**
 * What one case of the property-based run is made of, and how fast-check generates it: input
 * items (phone numbers of every shape, Is Member values, per-item Merchant Serial Numbers and Dry
 * Run values), how the node's parameters read them (plain values or expressions), the batch
 * options, On Error, and the faults the simulator injects per request.
 *
 * A case holds no phone number itself: each item that is meant to carry a number gets one of its
 * own when the case runs (see runCase.ts), so the simulator's log can be counted per item, and a
 * case stays the same value when it is printed and pasted into a regression test.
 */
import fc from 'fast-check';

import type { Fault } from '../../simulator/VippsSimulator';

/** Shapes in which people and systems write a valid Norwegian mobile number (README, Phone Number). */
export const VALID_PHONE_FORMATS = [
	'national',
	'47national',
	'+47national',
	'+47 grouped',
	'0047 national',
	'(+47) dashed',
	'grouped',
	'pairs',
	'dotted',
	'nbsp grouped',
	'number',
	'number 47national',
	'padded',
	'+47-dashed',
] as const;
export type ValidPhoneFormat = (typeof VALID_PHONE_FORMATS)[number];

/** Shapes that are no Norwegian mobile number; `own` ones are written from the item's own number. */
export const INVALID_PHONE_SHAPES = [
	'landline',
	'landline number',
	'+47 landline',
	'foreign',
	'foreign 00',
	'too short',
	'+47 too short',
	'too long',
	'trunk zero',
	'text',
	'empty',
	'blank',
	'full-width digits',
	'Arabic-Indic digits',
	'mixed-script digits',
	'negative number',
	'fractional number',
	'small number',
	'null',
	'object',
	'list',
	'boolean',
	'absent',
] as const;
export type InvalidPhoneShape = (typeof INVALID_PHONE_SHAPES)[number];

export type PhoneSpec =
	| { valid: ValidPhoneFormat }
	| { invalid: InvalidPhoneShape }
	/** The number of an earlier item (`of` modulo the item's index), in its own format: two items, one customer. */
	| { sameAs: number; format: ValidPhoneFormat };

/** A value as it sits in the item's JSON; `absent` leaves the field out. */
export type Slot = { value: unknown } | { absent: true };

export interface FuzzItem {
	phone: PhoneSpec;
	member: Slot;
	/** Read by the Merchant Serial Number expressions (`msn`, `shop.msn`). */
	msn: Slot;
	shop: Slot;
	/** Read by the Dry Run expression. */
	dry: Slot;
	/** Check-in faults for this item's number, one per request, in order. */
	faults: Fault[];
}

export type OnError = 'stopWorkflow' | 'continueRegularOutput' | 'continueErrorOutput';

export interface FuzzCase {
	items: FuzzItem[];
	/** `expression`: `{{ $json.phone }}`; `trim`: `{{ $json.phone.trim() }}` (throws for what is not text); `plain`: item 0's number, typed in. */
	phoneParameter: 'expression' | 'trim' | 'plain';
	/** `expression`: `{{ $json.member }}`; or the toggle, the same for every item. */
	memberParameter: { expression: true } | { plain: boolean };
	/** Option Merchant Serial Number: left out, typed in, `{{ $json.msn }}`, or `{{ $json.shop.msn.trim() }}` (throws for an item with no shop). */
	msnOption: { absent: true } | { plain: string } | { expression: 'msn' | 'shop.msn.trim()' };
	/** Option Dry Run: left out, the toggle, or `{{ $json.dry }}`. */
	dryRunOption: { absent: true } | { plain: boolean } | { expression: true };
	/** Concurrency, Max Requests per Second, Timeout, Skip Repeats (and its minutes): each left out when absent. */
	options: Record<string, unknown>;
	onError: OnError;
	/** Faults for the token requests, one per request, in order. */
	tokenFaults: Fault[];
	/** The first requests' connections are reset before a byte is read, whichever requests they are. */
	refusedConnections: number;
	/** The port refuses connections (ECONNREFUSED) from the start until this many ms in; undefined: open. */
	closedPortMs?: number;
	/** Every check-in is answered 429 with a Retry-After of an hour (a spent quota, a gateway in maintenance). */
	closedGateway: boolean;
	/**
	 * The same node runs the same items once more, with no fault, right after: what Skip Repeats
	 * remembers of the first run (a check-in that may have arrived is not sent again).
	 */
	secondRun?: true;
	/** The execution is cancelled (the Stop button) this many ms after it starts. */
	cancelAfterMs?: number;
	/**
	 * Each round trip to n8n's database (Skip Repeats records) takes this long. Process-wide while
	 * the case runs, so never generated: for a regression that needs a cancel to land inside one.
	 */
	databaseLatencyMs?: number;
}

/** What the generator may produce: `closedGateway` off leaves such cases out (they take minutes where the node waits for the gateway). */
export interface GeneratorOptions {
	maxItems: number;
	closedGateway: boolean;
}

/** Timeouts this small make a hang cost little; with a larger one a hang is bounded instead (see `timeoutIsSmall`). */
export const SMALL_TIMEOUTS = [100, 150, 200, 300];

const slot = (value: fc.Arbitrary<unknown>, absentWeight = 1, presentWeight = 6): fc.Arbitrary<Slot> =>
	fc.oneof(
		{ weight: presentWeight, arbitrary: value.map((v) => ({ value: v })) },
		{ weight: absentWeight, arbitrary: fc.constant({ absent: true as const }) },
	);

/** Is Member values: booleans, English and Norwegian words, 1/0, and what is neither yes nor no. */
export const CLEAR_YES = [true, 'yes', 'Yes', 'ja', 'JA', 'true', '1', 1, ' yes '];
export const CLEAR_NO = [false, 'no', 'No', 'nei', 'NEI', 'false', '0', 0, ' nei '];
export const UNCLEAR = ['maybe', 'kanskje', 2, -1, '', '   ', null, { yes: true }, [true], 'yess', 'ja takk'];

const memberValue = fc.oneof(
	{ weight: 6, arbitrary: fc.constantFrom(...CLEAR_YES, ...CLEAR_NO) },
	{ weight: 1, arbitrary: fc.constant('member') },
	{ weight: 2, arbitrary: fc.constantFrom(...UNCLEAR) },
);
const dryValue = fc.oneof(
	{ weight: 5, arbitrary: fc.constantFrom(...CLEAR_NO) },
	{ weight: 3, arbitrary: fc.constantFrom(...CLEAR_YES) },
	{ weight: 1, arbitrary: fc.constantFrom(...UNCLEAR) },
);

export const VALID_MSNS = ['1234', '123456', '7654321', 123456, ' 223344 '];
export const INVALID_MSNS = ['MSN-12', '123', '12345678', '12 34', 'abcd', 12.5, { msn: '1234' }, true];
const msnValue = fc.oneof(
	{ weight: 4, arbitrary: fc.constantFrom(...VALID_MSNS) },
	{ weight: 1, arbitrary: fc.constantFrom('', null) },
	{ weight: 2, arbitrary: fc.constantFrom(...INVALID_MSNS) },
);

const phoneSpec: fc.Arbitrary<PhoneSpec> = fc.oneof(
	{ weight: 10, arbitrary: fc.constantFrom(...VALID_PHONE_FORMATS).map((valid) => ({ valid })) },
	{ weight: 4, arbitrary: fc.constantFrom(...INVALID_PHONE_SHAPES).map((invalid) => ({ invalid })) },
	{
		weight: 1,
		arbitrary: fc.record({ sameAs: fc.nat({ max: 7 }), format: fc.constantFrom(...VALID_PHONE_FORMATS) }),
	},
);

const retryAfterForm = fc.constantFrom('delta-seconds', 'imf-fixdate', 'rfc850', 'asctime') as fc.Arbitrary<
	'delta-seconds' | 'imf-fixdate' | 'rfc850' | 'asctime'
>;

/** A 429 that asks for little: Retry-After 0 or 1 s in any form, or none at all. */
const shortThrottle: fc.Arbitrary<Fault> = fc.oneof(
	fc.record({ kind: fc.constant('status' as const), status: fc.constant(429 as const) }),
	fc.record({
		kind: fc.constant('status' as const),
		status: fc.constant(429 as const),
		retryAfterSeconds: fc.constantFrom(0, 0, 1),
		retryAfterForm,
	}),
);

const badRequest: Fault = {
	kind: 'badRequest',
	invalidParams: [{ name: 'phoneNumber', reason: 'The user is not a Vipps user.' }],
};

/** Faults for one check-in request. `hang` and a stalled body are kept or bounded by the case's Timeout (see normaliseFaults). */
const checkInFault: fc.Arbitrary<Fault> = fc.oneof(
	{ weight: 3, arbitrary: fc.constantFrom<Fault>({ kind: 'status', status: 502 }, { kind: 'status', status: 503 }, { kind: 'status', status: 504 }) },
	{ weight: 2, arbitrary: fc.constant<Fault>({ kind: 'status', status: 500 }) },
	{ weight: 3, arbitrary: shortThrottle },
	{ weight: 2, arbitrary: fc.constant(badRequest) },
	{ weight: 2, arbitrary: fc.constant<Fault>({ kind: 'reset' }) },
	{ weight: 2, arbitrary: fc.constant<Fault>({ kind: 'dropped' }) },
	{ weight: 2, arbitrary: fc.constant<Fault>({ kind: 'hang' }) },
	{ weight: 1, arbitrary: fc.integer({ min: 5, max: 40 }).map<Fault>((ms) => ({ kind: 'latency', ms })) },
	{ weight: 1, arbitrary: fc.constant<Fault>({ kind: 'expiredToken' }) },
	{
		weight: 1,
		arbitrary: fc.constantFrom(301, 302, 307, 308).map<Fault>((status) => ({
			kind: 'redirect',
			status: status as 301 | 302 | 307 | 308,
			location: 'http://127.0.0.1:9/moved',
		})),
	},
	{
		weight: 2,
		arbitrary: fc.record({
			kind: fc.constant('partialBody' as const),
			status: fc.constantFrom(200 as const, 200 as const, 400 as const, 503 as const),
			end: fc.constantFrom('hang' as const, 'close' as const),
		}),
	},
	{ weight: 1, arbitrary: fc.constant<Fault>({ kind: 'malformedJson' }) },
);

/** Faults for the token request; its Timeout is the transport's own (30 s), so a hang is always bounded. */
const tokenFault: fc.Arbitrary<Fault> = fc.oneof(
	fc.constantFrom<Fault>(
		{ kind: 'status', status: 500 },
		{ kind: 'status', status: 502 },
		{ kind: 'status', status: 503 },
		{ kind: 'status', status: 504 },
		{ kind: 'reset' },
		{ kind: 'dropped' },
		{ kind: 'hang', ms: 100 },
		{ kind: 'partialBody', status: 200, end: 'close' },
		{ kind: 'malformedJson' },
		{ kind: 'expiredToken' },
		{ kind: 'redirect', status: 302, location: 'http://127.0.0.1:9/moved' },
	),
	shortThrottle,
);

const faultList = (fault: fc.Arbitrary<Fault>, max: number) =>
	fc.oneof({ weight: 3, arbitrary: fc.constant([] as Fault[]) }, { weight: 2, arbitrary: fc.array(fault, { minLength: 1, maxLength: max }) });

/** Any input: every shape above, valid or not. */
const messyItem: fc.Arbitrary<FuzzItem> = fc.record({
	phone: phoneSpec,
	member: slot(memberValue),
	msn: slot(msnValue, 2, 3),
	shop: slot(fc.constantFrom({ msn: '1234' }, { msn: ' 987654 ' }, { msn: 'x' }, {}), 1, 3),
	dry: slot(dryValue, 1, 4),
	faults: faultList(checkInFault, 3),
});

/** Input as a form or a CRM hands it over when all is well: valid numbers in their many shapes, clear yes/no. */
const cleanItem: fc.Arbitrary<FuzzItem> = fc.record({
	phone: fc.oneof(
		{ weight: 12, arbitrary: fc.constantFrom(...VALID_PHONE_FORMATS).map((valid) => ({ valid })) },
		{ weight: 1, arbitrary: fc.record({ sameAs: fc.nat({ max: 7 }), format: fc.constantFrom(...VALID_PHONE_FORMATS) }) },
	),
	member: fc.constantFrom(...CLEAR_YES, ...CLEAR_NO).map((value) => ({ value })),
	msn: slot(fc.constantFrom(...VALID_MSNS), 1, 2),
	shop: fc.constantFrom({ msn: '1234' }, { msn: ' 987654 ' }).map((value) => ({ value })),
	dry: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...CLEAR_NO) }, { weight: 1, arbitrary: fc.constantFrom(...CLEAR_YES) }).map((value) => ({ value })),
	faults: faultList(checkInFault, 3),
});

/** Each batch option valid most of the time, each on its own; sometimes what the node must refuse. */
const options: fc.Arbitrary<Record<string, unknown>> = fc
	.record(
		{
			concurrency: fc.oneof(
				{ weight: 30, arbitrary: fc.constantFrom(1, 2, 3, 4, 128) },
				{ weight: 1, arbitrary: fc.constantFrom(0, 129, 2.5, -1, 'many') },
			),
			maxRequestsPerSecond: fc.oneof(
				{ weight: 30, arbitrary: fc.constantFrom(0, 20, 50, 1000) },
				{ weight: 1, arbitrary: fc.constantFrom(-5, 'fast') },
			),
			timeout: fc.oneof(
				{ weight: 20, arbitrary: fc.constantFrom(...SMALL_TIMEOUTS) },
				{ weight: 10, arbitrary: fc.constantFrom(2000, 5000) },
				{ weight: 1, arbitrary: fc.constantFrom(50, -1, 'soon') },
			),
			skipRepeats: fc.oneof(
				{ weight: 30, arbitrary: fc.constantFrom('off', 'sameHour', 'sameDay', 'minutes') },
				{ weight: 1, arbitrary: fc.constant('weekly') },
			),
			skipRepeatsMinutes: fc.oneof({ weight: 30, arbitrary: fc.constantFrom(1, 60) }, { weight: 1, arbitrary: fc.constantFrom(0, -5) }),
		},
		{ requiredKeys: [] },
	)
	.map((chosen) => {
		// The minutes only show when Skip Repeats is "Within a Number of Minutes".
		if (chosen.skipRepeats !== 'minutes') delete chosen.skipRepeatsMinutes;
		return chosen;
	});

/** The case's Timeout in ms when it is a valid one, else undefined (the node then sends nothing). */
export function timeoutOf(options: Record<string, unknown>): number | undefined {
	if (!('timeout' in options)) return 20_000;
	const { timeout } = options;
	return typeof timeout === 'number' && timeout >= 100 ? timeout : undefined;
}

export function timeoutIsSmall(options: Record<string, unknown>): boolean {
	const timeout = timeoutOf(options);
	return timeout !== undefined && timeout <= 300;
}

/**
 * Keeps every case fast: a hang or a stalled body waits for the node's Timeout, so with a Timeout
 * above 300 ms they become a bounded hang (reset after 150 ms) and a body that breaks off.
 */
export function normaliseFaults(fuzzCase: FuzzCase): FuzzCase {
	if (timeoutIsSmall(fuzzCase.options)) return fuzzCase;
	const bounded = (fault: Fault): Fault =>
		fault.kind === 'hang' && fault.ms === undefined
			? { kind: 'hang', ms: 150 }
			: fault.kind === 'partialBody' && fault.end !== 'close'
				? { ...fault, end: 'close' }
				: fault;
	return { ...fuzzCase, items: fuzzCase.items.map((it) => ({ ...it, faults: it.faults.map(bounded) })) };
}

export function caseArbitrary({ maxItems, closedGateway }: GeneratorOptions): fc.Arbitrary<FuzzCase> {
	return fc
		.record({
			// Most cases are clean input with faults on the wire; the others mix every shape of input.
			items: fc.oneof(
				{ weight: 2, arbitrary: fc.array(cleanItem, { minLength: 1, maxLength: maxItems }) },
				{ weight: 1, arbitrary: fc.array(messyItem, { minLength: 1, maxLength: maxItems }) },
			),
			phoneParameter: fc.oneof(
				{ weight: 16, arbitrary: fc.constant('expression' as const) },
				{ weight: 1, arbitrary: fc.constant('trim' as const) },
				{ weight: 1, arbitrary: fc.constant('plain' as const) },
			),
			memberParameter: fc.oneof(
				{ weight: 6, arbitrary: fc.constant({ expression: true as const }) },
				{ weight: 1, arbitrary: fc.boolean().map((plain) => ({ plain })) },
			),
			msnOption: fc.oneof(
				{ weight: 8, arbitrary: fc.constant({ absent: true as const }) },
				{ weight: 1, arbitrary: fc.constantFrom('123456', '7654321', 'MSN-12').map((plain) => ({ plain })) },
				{ weight: 2, arbitrary: fc.constantFrom('msn' as const, 'shop.msn.trim()' as const).map((expression) => ({ expression })) },
			),
			dryRunOption: fc.oneof(
				{ weight: 4, arbitrary: fc.constant({ absent: true as const }) },
				{ weight: 1, arbitrary: fc.boolean().map((plain) => ({ plain })) },
				{ weight: 3, arbitrary: fc.constant({ expression: true as const }) },
			),
			options,
			onError: fc.constantFrom<OnError>('stopWorkflow', 'continueRegularOutput', 'continueErrorOutput'),
			tokenFaults: fc.oneof({ weight: 4, arbitrary: fc.constant([] as Fault[]) }, { weight: 1, arbitrary: fc.array(tokenFault, { minLength: 1, maxLength: 2 }) }),
			refusedConnections: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 }) }),
			closedPortMs: fc.oneof({ weight: 20, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: 50, max: 300 }) }),
			closedGateway: closedGateway ? fc.oneof({ weight: 15, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }) : fc.constant(false),
			secondRun: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant(true as const) }),
			cancelAfterMs: fc.oneof({ weight: 10, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: 5, max: 400 }) }),
		})
		.map((generated) => {
			const fuzzCase: FuzzCase = { ...generated };
			if (fuzzCase.closedPortMs === undefined) delete fuzzCase.closedPortMs;
			if (fuzzCase.secondRun === undefined) delete fuzzCase.secondRun;
			if (fuzzCase.cancelAfterMs === undefined) delete fuzzCase.cancelAfterMs;
			return normaliseFaults(fuzzCase);
		});
}
