/**
 * The invariants can fail: each is shown a made-up observation of a node that broke its promise,
 * and one that kept it. (A check that cannot fail would let the property-based run pass on a
 * broken node.)
 */
import type { INodeExecutionData } from 'n8n-workflow';

import { checkInvariants, type InvariantName } from '../../scripts/fuzz/invariants';
import type { FuzzCase } from '../../scripts/fuzz/model';
import type { Observation, PlannedItem } from '../../scripts/fuzz/runCase';
import type { RecordedRequest } from '../../simulator/VippsSimulator';
import { fuzzCase as caseOf, item } from './cases';

const CHECK_IN = '/point-of-sale/v1/loyalty-check-in';

function planned(index: number, overrides: Partial<PlannedItem> = {}): PlannedItem {
	const national = `9000000${index}`;
	return { index, national, msisdn: `47${national}`, json: {}, phoneValid: true, isMember: true, msnValid: true, msn: '123456', dry: 'no', ...overrides };
}

function request(seq: number, phoneNumber: string, status: number, fault?: RecordedRequest['fault']): RecordedRequest {
	const rawBody = JSON.stringify({ phoneNumber, isMember: true });
	return {
		seq,
		receivedAt: 0,
		method: 'POST',
		path: CHECK_IN,
		headers: {
			authorization: '[redacted]',
			'ocp-apim-subscription-key': '[redacted]',
			'content-type': 'application/json',
			'merchant-serial-number': '123456',
		},
		body: JSON.parse(rawBody) as unknown,
		rawBody,
		status,
		...(fault && { fault }),
	};
}

const sent = (index: number, extra: object = {}): INodeExecutionData => ({
	json: { checkInId: 'id', attempts: 1, possibleDuplicate: false, phoneNumber: `479000000${index}`, isMember: true, merchantSerialNumber: '123456', ...extra },
	pairedItem: { item: index },
});

/** An error item: its facts (`extra` among them) in `details`, as n8n's error output needs. */
const failed = (index: number, extra: object = {}): INodeExecutionData => ({
	json: {
		error: 'Vipps could not process the check-in (HTTP 500)',
		details: { attempts: 1, possibleDuplicate: false, phoneNumber: `479000000${index}`, isMember: true, ...extra },
	},
	pairedItem: { item: index },
});

function observation(overrides: Partial<Observation> & { items?: number; onError?: FuzzCase['onError'] } = {}): Observation {
	const count = overrides.items ?? 2;
	const fuzzCase = caseOf({ items: Array.from({ length: count }, () => item()), onError: overrides.onError ?? 'continueRegularOutput' });
	const plannedItems = Array.from({ length: count }, (_, index) => planned(index));
	const checkIns = plannedItems.map((p, index) => request(index + 1, p.msisdn!, 200));
	return {
		fuzzCase,
		planned: plannedItems,
		run: {} as Observation['run'],
		success: plannedItems.map((_, index) => sent(index)),
		errorOutput: [],
		error: undefined,
		requests: checkIns,
		checkIns,
		secrets: ['secret-abc', 'key-def', 'eyJtoken'],
		visible: '{}',
		logLines: [],
		startedAt: 0,
		elapsedMs: 10,
		refusedConnections: 0,
		...overrides,
	};
}

const violated = (obs: Observation): InvariantName[] => [...new Set(checkInvariants(obs).violations.map((v) => v.invariant))];

test('a node that kept every promise violates nothing', () => {
	expect(checkInvariants(observation()).violations).toEqual([]);
});

test.each<[string, InvariantName, Partial<Observation> & { items?: number; onError?: FuzzCase['onError'] }]>([
	['an output item missing', 'onePerInput', { success: [sent(0)] }],
	['outputs out of input order', 'pairedInOrder', { success: [sent(1), sent(0)] }],
	['a secret in a log line', 'noSecrets', { visible: '{"error":"… key-def …"}' }],
	['an issued token in the output', 'noSecrets', { visible: '{"token":"eyJtoken"}' }],
	['a thrown error under Continue', 'continueNeverThrows', { error: Object.assign(new Error('boom'), {}) }],
	['an item reported sent that the simulator never answered 2xx', 'reportedSentWasReceived', { checkIns: [request(1, '4790000000', 200)] }],
	['a 2xx the item does not own (it failed, no possible duplicate)', 'answeredReportedSent', { success: [sent(0), failed(1)] }],
	['an error item without attempts', 'failureFields', { success: [sent(0), failed(1, { attempts: undefined })] }],
	['an error item without its phone number', 'failureFields', { success: [sent(0), failed(1, { phoneNumber: undefined })] }],
	[
		'three check-ins that may have arrived for one item',
		'atMostTwice',
		{ checkIns: [request(1, '4790000000', 503), request(2, '4790000000', 0, 'hang'), request(3, '4790000000', 200), request(4, '4790000001', 200)] },
	],
	['a check-in for a number no item carries', 'sentOnlyForItems', { checkIns: [request(1, '4790000000', 200), request(2, '4790000001', 200), request(3, '4722222222', 200)] }],
	['a request outside the contract', 'contract', { requests: [{ ...request(1, '4790000000', 200), rawBody: '{"phoneNumber":4790000000}', body: { phoneNumber: 4790000000 } }] }],
	[
		'a check-in sent with another Is Member than its item asked',
		'sentAsAsked',
		{ checkIns: [request(1, '4790000000', 200), { ...request(2, '4790000001', 200), body: { phoneNumber: '4790000001', isMember: false } }] },
	],
	['a sent item reporting another MSN than it was sent with', 'sentAsAsked', { success: [sent(0), sent(1, { merchantSerialNumber: '999999' })] }],
	['under Stop Workflow, an error naming no item', 'stopNamesItem', { onError: 'stopWorkflow', success: [], error: Object.assign(new Error('stopped'), { context: {} }) }],
])('%s violates %s', (_, invariant, overrides) => {
	expect(violated(observation(overrides))).toContain(invariant);
});

test('a 2xx lost to the Timeout is owned by an item that says it may have arrived, sent or failed', () => {
	const twoForOne = [request(1, '4790000000', 200), request(2, '4790000000', 200), request(3, '4790000001', 200)];
	expect(violated(observation({ checkIns: twoForOne, success: [sent(0, { possibleDuplicate: true }), sent(1)] }))).toEqual([]);
	// A Timeout of 150 ms: a busy machine may time out a request with no fault of its own.
	const timedOut = observation({ success: [sent(0), failed(1, { possibleDuplicate: true })] });
	timedOut.fuzzCase.options = { timeout: 150 };
	expect(violated(timedOut)).toEqual([]);
	expect(violated(observation({ checkIns: twoForOne }))).toContain('answeredReportedSent');
});

test('a Dry Run item that was sent violates dryNeverSent; one that was described does not', () => {
	const dry = observation();
	dry.planned[1] = planned(1, { dry: 'yes' });
	expect(violated(dry)).toContain('dryNeverSent');
	const described = observation({ checkIns: [request(1, '4790000000', 200)], success: [sent(0), { json: { dryRun: true }, pairedItem: { item: 1 } }] });
	described.planned[1] = planned(1, { dry: 'yes' });
	expect(violated(described)).toEqual([]);
});

test('a run that was cancelled at its deadline violates finishesInTime, and nothing else is judged', () => {
	expect(checkInvariants(observation({ run: undefined })).violations.map((v) => v.invariant)).toEqual(['finishesInTime']);
});
