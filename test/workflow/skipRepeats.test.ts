/**
 * The Skip Repeats option as a user runs it: the same workflow executed again and again through
 * n8n's engine, its records kept in between as n8n's database keeps them (the harness's in-memory
 * deduplication records), real HTTP to the simulator. The clock is luxon's (`Settings.now`), which
 * the node reads through `DateTime.now()`: the tests set it to the times they need.
 */
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

import { DateTime, Settings } from 'luxon';
import type { ICheckProcessedContextData, IDataObject, INode } from 'n8n-workflow';

import { processedData, runWorkflow, startWorkflow, type RunningWorkflow, type WorkflowJson, type WorkflowRun } from '../../harness/runWorkflow';
import { PATHS, type VippsSimulator } from '../../simulator/VippsSimulator';
import { VIPPS_NODE, checkInWorkflow, simulatorCredential, startSimulator, type CheckInWorkflowOptions } from './fixtures';

const TIMEZONE = 'Europe/Oslo';

let simulator: VippsSimulator;

beforeEach(async () => {
	simulator = await startSimulator();
	processedData.clear();
});

afterEach(async () => {
	Settings.now = () => Date.now();
	await simulator.close();
});

/** Sets the clock the node reads to `iso`, a local time in the workflow's timezone. */
function clockAt(iso: string, timezone = TIMEZONE): void {
	const millis = DateTime.fromISO(iso, { zone: timezone }).toMillis();
	Settings.now = () => millis;
}

function workflow(options: CheckInWorkflowOptions, timezone = TIMEZONE): WorkflowJson {
	return { ...checkInWorkflow({ ...options, options: { skipRepeats: 'sameHour', ...options.options } }), settings: { timezone } };
}

async function run(options: CheckInWorkflowOptions, timezone?: string): Promise<WorkflowRun> {
	const result = await runWorkflow(workflow(options, timezone), { credentials: [simulatorCredential(simulator)] });
	expect(result.error).toBeUndefined();
	return result;
}

const sentPhoneNumbers = () => simulator.checkInRequests().map((request) => (request.body as IDataObject).phoneNumber);
const outputOf = (result: WorkflowRun) => result.itemsOf(VIPPS_NODE).map((item) => item.json);

const KARI = { phone: '+47 912 34 567', member: true };
const OLA = { phone: '98765432', member: true };

const skipped = (from: string, to: string, merchantSerialNumber = '123456') => ({
	skipped: true,
	message: expect.stringMatching(/^Not sent again: already checked in (at|between) /),
	previousCheckIn: { from: DateTime.fromISO(from, { zone: TIMEZONE }).toISO(), to: DateTime.fromISO(to, { zone: TIMEZONE }).toISO(), confirmed: true },
	phoneNumber: '4791234567',
	isMember: true,
	merchantSerialNumber,
});

describe('Skip Repeats across executions', () => {
	it('sends the first check-in of a contact; the next execution skips it and says since when it was checked in', async () => {
		clockAt('2026-11-25T14:10:00');
		const first = await run({ items: [KARI] });
		expect(outputOf(first)).toEqual([expect.objectContaining({ checkInId: expect.any(String), phoneNumber: '4791234567' })]);

		clockAt('2026-11-25T14:40:00');
		const second = await run({ items: [KARI, { phone: '98765432', member: true }] });

		expect(sentPhoneNumbers()).toEqual(['4791234567', '4798765432']);
		const [repeat, other] = second.itemsOf(VIPPS_NODE);
		expect(repeat.json).toEqual(skipped('2026-11-25T14:00:00', '2026-11-25T14:40:00'));
		expect(repeat.json.message).toBe(
			'Not sent again: already checked in between 2026-11-25T14:00:00+01:00 and 2026-11-25T14:40:00+01:00 (option Skip Repeats)',
		);
		expect(repeat.pairedItem).toEqual({ item: 0 });
		expect(other).toEqual({ json: expect.objectContaining({ checkInId: expect.any(String), phoneNumber: '4798765432' }), pairedItem: { item: 1 } });
	});

	it('is per Merchant Serial Number: the same phone number for another sales unit is not a repeat', async () => {
		clockAt('2026-11-25T14:10:00');
		await run({ items: [{ ...KARI, shop: '123456' }], options: { merchantSerialNumber: '={{ $json.shop }}' } });
		const second = await run({
			items: [{ ...KARI, shop: '7654321' }, { ...KARI, shop: '123456' }],
			options: { merchantSerialNumber: '={{ $json.shop }}' },
		});

		expect(simulator.checkInRequests().map((request) => request.headers['merchant-serial-number'])).toEqual(['123456', '7654321']);
		expect(outputOf(second)).toEqual([
			expect.objectContaining({ checkInId: expect.any(String), merchantSerialNumber: '7654321' }),
			skipped('2026-11-25T14:00:00', '2026-11-25T14:10:00'),
		]);
	});

	it('does not count a failed check-in: the next execution sends it', async () => {
		clockAt('2026-11-25T14:10:00');
		simulator.injectFault({ fault: { kind: 'badRequest', invalidParams: [{ name: 'phoneNumber', reason: 'Not a Vipps user' }] }, path: PATHS.checkIn });
		const failed = await runWorkflow(workflow({ items: [KARI] }), { credentials: [simulatorCredential(simulator)] });
		expect(failed.error?.message).toMatch(/Vipps rejected the check-in/);
		expect(processedData.valuesOf('harness', 'vipps')).toEqual([]);

		const retry = await run({ items: [KARI] });
		expect(outputOf(retry)).toEqual([expect.objectContaining({ checkInId: expect.any(String) })]);
		expect(simulator.checkInRequests().map((request) => request.status)).toEqual([400, 200]);
	});

	it('records nothing in a Dry Run', async () => {
		clockAt('2026-11-25T14:10:00');
		const dryRun = await run({ items: [KARI], options: { dryRun: true } });
		expect(outputOf(dryRun)).toEqual([expect.objectContaining({ dryRun: true })]);
		expect(processedData.valuesOf('harness', 'vipps')).toEqual([]);

		const real = await run({ items: [KARI] });
		expect(outputOf(real)).toEqual([expect.objectContaining({ checkInId: expect.any(String) })]);
		expect(sentPhoneNumbers()).toEqual(['4791234567']);
	});

	it('sends the contact once when two executions run at the same moment', async () => {
		clockAt('2026-11-25T14:10:00');
		const credentials = [simulatorCredential(simulator)];
		const runs = await Promise.all([
			startWorkflow(workflow({ items: [KARI] }), { credentials }).result,
			startWorkflow(workflow({ items: [KARI] }), { credentials }).result,
		]);

		expect(sentPhoneNumbers()).toEqual(['4791234567']);
		expect(runs.flatMap(outputOf).map((json) => (json.skipped ? 'skipped' : 'sent')).sort()).toEqual(['sent', 'skipped']);
	});
});

describe('Skip Repeats within one batch', () => {
	it('sends the same phone number once: the later item is skipped with the exact time of the first', async () => {
		clockAt('2026-11-25T14:10:00');
		const result = await run({ items: [KARI, { phone: '98765432', member: true }, { phone: '4791234567', member: true }], options: { concurrency: 3 } });

		expect(sentPhoneNumbers().sort()).toEqual(['4791234567', '4798765432']);
		const output = result.itemsOf(VIPPS_NODE);
		expect(output.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);
		expect(output[0].json).toEqual(expect.objectContaining({ checkInId: expect.any(String), phoneNumber: '4791234567' }));
		expect(output[1].json).toEqual(expect.objectContaining({ checkInId: expect.any(String), phoneNumber: '4798765432' }));
		expect(output[2].json).toEqual(skipped('2026-11-25T14:10:00', '2026-11-25T14:10:00'));
		expect(output[2].json.message).toBe('Not sent again: already checked in at 2026-11-25T14:10:00+01:00 (option Skip Repeats)');
	});

	it("writes n8n's records for many items at once, not once per item", async () => {
		// A database slower than the items arrive: those waiting while one write is under way go in the next.
		processedData.setLatency(50);
		const record = jest.spyOn(processedData, 'checkProcessedAndRecord');
		const items = Array.from({ length: 64 }, (_, index) => ({ phone: String(40_000_000 + index), member: true }));
		const result = await run({ items });

		expect(outputOf(result).filter((json) => json.checkInId)).toHaveLength(64);
		expect(processedData.valuesOf('harness', 'vipps')).toHaveLength(64);
		// Each call rewrites the node's whole record list in n8n's database: one per item would be 64.
		// Every item is checked before any is sent, so all 64 ask while the first write is under way:
		// however the machine schedules them, they share a handful of writes (no count timing decides).
		expect(record.mock.calls.length).toBeLessThan(items.length / 2);
		record.mockRestore();
	});

	it('sends the later item when the first one failed (Continue On Fail)', async () => {
		clockAt('2026-11-25T14:10:00');
		simulator.injectFault({ fault: { kind: 'badRequest', invalidParams: [{ name: 'phoneNumber', reason: 'Not a Vipps user' }] }, path: PATHS.checkIn });
		const result = await run({ items: [KARI, KARI], continueOnFail: true });

		expect(simulator.checkInRequests().map((request) => request.status)).toEqual([400, 200]);
		expect(outputOf(result)).toEqual([
			expect.objectContaining({ error: expect.stringMatching(/Vipps rejected the check-in/) }),
			expect.objectContaining({ checkInId: expect.any(String), phoneNumber: '4791234567' }),
		]);
	});
});

/**
 * A gate between the node and the simulator that holds the first check-in for `phoneNumber` until
 * the test lets it through: it keeps that check-in under way for exactly as long as a test needs,
 * whatever the machine's load.
 */
async function startGate(target: VippsSimulator, phoneNumber: string) {
	let holdNext = true;
	let held: (() => void) | undefined;
	let arrived!: () => void;
	const holding = new Promise<void>((resolve) => (arrived = resolve));
	const forward = (method: string, url: string, headers: IncomingHttpHeaders, body: Buffer, reply: import('node:http').ServerResponse) => {
		const upstream = request(`${target.baseUrl}${url}`, { method, headers }, (answer) => {
			reply.writeHead(answer.statusCode ?? 502, answer.headers);
			answer.pipe(reply);
		});
		upstream.end(body);
	};
	const server = createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (chunk: Buffer) => chunks.push(chunk));
		req.on('end', () => {
			const body = Buffer.concat(chunks);
			const send = () => forward(req.method ?? 'POST', req.url ?? '/', req.headers, body, res);
			if (holdNext && req.url === PATHS.checkIn && body.toString().includes(phoneNumber)) {
				holdNext = false;
				held = send;
				arrived();
			} else send();
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		/** Resolves once the held check-in has arrived. */
		holding,
		release: () => held?.(),
		close: () => new Promise<void>((resolve) => server.close(() => resolve())),
	};
}

/**
 * Two executions of the node over Kari: A's check-in of Kari is held at a gate; B (Kari, then Ola)
 * starts meanwhile, and Ola reaching Vipps shows that B has met Kari's check-in under way (its
 * workers take the items in order). `whileHeld` runs then, before the gate lets A's check-in through.
 */
async function twoExecutionsOverKari(whileHeld: (b: RunningWorkflow) => Promise<void> = async () => undefined): Promise<WorkflowRun[]> {
	const gate = await startGate(simulator, '4791234567');
	try {
		const credentials = [simulatorCredential(simulator, { customBaseUrl: gate.baseUrl })];
		const a = startWorkflow(workflow({ items: [KARI] }), { credentials });
		await gate.holding;
		const b = startWorkflow(workflow({ items: [KARI, OLA], options: { concurrency: 2 } }), { credentials });
		await simulator.waitForRequests(2);
		expect(sentPhoneNumbers()).toEqual(['4798765432']);
		await whileHeld(b);
		gate.release();
		return await Promise.all([a.result, b.result]);
	} finally {
		await gate.close();
	}
}

describe('Skip Repeats tells the truth', () => {
	const notAVippsUser = { kind: 'badRequest' as const, invalidParams: [{ name: 'phoneNumber', reason: 'Not a Vipps user' }] };

	it('a contact whose check-in is under way in another execution waits for its outcome; that send fails, so this execution sends it', async () => {
		clockAt('2026-11-25T14:10:00');
		// Kari's first check-in to reach Vipps is refused.
		simulator.injectFault({ fault: notAVippsUser, path: PATHS.checkIn, phoneNumber: '4791234567' });
		const [a, b] = await twoExecutionsOverKari();

		expect(a.error?.message).toMatch(/^Vipps rejected the check-in/);
		// B did not claim a check-in that never happened: it sent Kari itself.
		expect(outputOf(b)).toEqual([
			expect.objectContaining({ checkInId: expect.any(String), phoneNumber: '4791234567' }),
			expect.objectContaining({ checkInId: expect.any(String), phoneNumber: '4798765432' }),
		]);
		expect(simulator.checkInRequests().map((r) => `${(r.body as IDataObject).phoneNumber} ${r.status}`)).toEqual([
			'4798765432 200',
			'4791234567 400',
			'4791234567 200',
		]);
	});

	it('a contact whose check-in is under way in another execution waits for it; when it is sent, this one is a repeat at that exact time', async () => {
		clockAt('2026-11-25T14:10:00');
		const [a, b] = await twoExecutionsOverKari();

		expect(outputOf(a)).toEqual([expect.objectContaining({ checkInId: expect.any(String) })]);
		expect(outputOf(b)[0]).toEqual(skipped('2026-11-25T14:10:00', '2026-11-25T14:10:00'));
		expect(sentPhoneNumbers()).toEqual(['4798765432', '4791234567']);
	});

	it('cancelling an execution ends its wait for the other execution\'s check-in of the same contact', async () => {
		clockAt('2026-11-25T14:10:00');
		const [a, b] = await twoExecutionsOverKari(async (waiting) => {
			// A's check-in is still held: B ends by the cancel alone, not by A's outcome.
			waiting.cancel();
			expect((await waiting.result).run.status).toBe('canceled');
		});

		expect(b.run.status).toBe('canceled');
		expect(outputOf(a)).toEqual([expect.objectContaining({ checkInId: expect.any(String) })]);
		expect(sentPhoneNumbers()).toEqual(['4798765432', '4791234567']);
	});

	it('a check-in that may have reached Vipps (timed out twice) is a possible check-in: the next run skips it and says so', async () => {
		clockAt('2026-11-25T14:10:00');
		simulator.injectFault({ fault: { kind: 'hang' }, path: PATHS.checkIn, times: 2 });
		const failed = await run({ items: [KARI], options: { timeout: 300 }, continueOnFail: true });
		expect(outputOf(failed)).toEqual([
			{ error: expect.stringMatching(/^Vipps did not answer the check-in within 300 ms, after 2 attempts/), details: expect.objectContaining({ attempts: 2, possibleDuplicate: true }) },
		]);
		const records = processedData.valuesOf('harness', 'vipps');

		clockAt('2026-11-25T14:40:00');
		const next = await run({ items: [KARI, OLA] });

		expect(outputOf(next)[0]).toEqual({
			...skipped('2026-11-25T14:00:00', '2026-11-25T14:40:00'),
			message:
				'Not sent again: an earlier attempt between 2026-11-25T14:00:00+01:00 and 2026-11-25T14:40:00+01:00 may have reached Vipps, though Vipps did not confirm it (option Skip Repeats)',
			previousCheckIn: expect.objectContaining({ confirmed: false }),
		});
		// Kari's two timed-out attempts, then Ola only; looking the mark up left the records as they were (plus Ola's).
		expect(sentPhoneNumbers()).toEqual(['4791234567', '4791234567', '4798765432']);
		expect(processedData.valuesOf('harness', 'vipps')).toEqual([...records, expect.stringContaining('4798765432')]);
	});

	it('an execution cancelled while its check-in was under way leaves a possible check-in: the next run skips it and says so', async () => {
		clockAt('2026-11-25T14:10:00');
		simulator.injectFault({ fault: { kind: 'hang' }, path: PATHS.checkIn });
		const running = startWorkflow(workflow({ items: [KARI] }), { credentials: [simulatorCredential(simulator)] });
		// The token request, then the check-in, which Vipps holds: it has arrived when the execution is cancelled.
		await simulator.waitForRequests(2);
		running.cancel();
		expect((await running.result).run.status).toBe('canceled');

		clockAt('2026-11-25T14:40:00');
		const next = await run({ items: [KARI] });
		expect(outputOf(next)).toEqual([
			expect.objectContaining({ skipped: true, message: expect.stringMatching(/may have reached Vipps/), previousCheckIn: expect.objectContaining({ confirmed: false }) }),
		]);
		expect(sentPhoneNumbers()).toEqual(['4791234567']);
	});

	it('Is Member is part of a repeat: a check-in as non-member (the app shows nothing) does not block the member one', async () => {
		clockAt('2026-11-25T14:10:00');
		await run({ items: [{ ...KARI, member: false }] });
		clockAt('2026-11-25T14:20:00');
		const joined = await run({ items: [KARI, { ...KARI, member: false }] });

		expect(simulator.checkInRequests().map((request) => request.body)).toEqual([
			{ phoneNumber: '4791234567', isMember: false },
			{ phoneNumber: '4791234567', isMember: true },
		]);
		expect(outputOf(joined)).toEqual([
			expect.objectContaining({ checkInId: expect.any(String), isMember: true }),
			expect.objectContaining({ skipped: true, isMember: false }),
		]);
	});

	describe("at n8n's cap of 10,000 records", () => {
		const CONTEXT = { workflow: { id: 'harness', active: false }, node: { id: 'vipps' } as INode } satisfies ICheckProcessedContextData;
		/** Contact i: 9xxxxxxx with i in the last seven digits. */
		const contact = (i: number) => ({ phone: `9${String(i).padStart(7, '0')}`, member: true });
		const msisdn = (i: number) => `479${String(i).padStart(7, '0')}`;

		/**
		 * n8n's records holding 10,000 check-ins of today, contacts 0–9,999 in that order, written as
		 * the node writes them: the key of one real check-in, with the phone number swapped.
		 */
		async function tenThousandCheckInsToday(): Promise<string[]> {
			await run({ items: [contact(0)], options: { skipRepeats: 'sameDay' } });
			const [template] = processedData.valuesOf('harness', 'vipps');
			expect(template).toContain(msisdn(0));
			processedData.clear();
			const keys = Array.from({ length: 10_000 }, (_, i) => template.replace(msisdn(0), msisdn(i)));
			await processedData.checkProcessedAndRecord(keys, 'node', CONTEXT, { mode: 'entries', maxEntries: 10_000 });
			simulator.resetLog();
			return keys;
		}

		it('128 check-ins failing at once push out no live record: contacts 0–127 are still skipped', async () => {
			clockAt('2026-11-25T14:10:00');
			const recorded = await tenThousandCheckInsToday();
			simulator.injectFault({ fault: notAVippsUser, path: PATHS.checkIn, times: 128 });

			const newContacts = Array.from({ length: 128 }, (_, i) => ({ phone: `4${String(i).padStart(7, '0')}`, member: true }));
			const failing = await run({ items: newContacts, options: { skipRepeats: 'sameDay', concurrency: 128 }, continueOnFail: true });
			expect(outputOf(failing).filter((json) => json.error)).toHaveLength(128);
			expect(processedData.valuesOf('harness', 'vipps')).toEqual(recorded);

			simulator.resetLog();
			const again = await run({ items: Array.from({ length: 128 }, (_, i) => contact(i)), options: { skipRepeats: 'sameDay' } });
			expect(outputOf(again).every((json) => json.skipped === true)).toBe(true);
			expect(simulator.checkInRequests()).toEqual([]);
		});

		it('a repeat looks up its mark of a possible check-in without pushing out a record', async () => {
			clockAt('2026-11-25T14:10:00');
			const recorded = await tenThousandCheckInsToday();

			const again = await run({ items: [contact(0), contact(9_999)], options: { skipRepeats: 'sameDay' } });
			expect(outputOf(again).map((json) => json.previousCheckIn)).toEqual([
				expect.objectContaining({ confirmed: true }),
				expect.objectContaining({ confirmed: true }),
			]);
			expect(processedData.valuesOf('harness', 'vipps')).toEqual(recorded);
		});

		it('failures among successes: only the successes push out the oldest records, one each', async () => {
			clockAt('2026-11-25T14:10:00');
			const recorded = await tenThousandCheckInsToday();
			const newContacts = Array.from({ length: 128 }, (_, i) => ({ phone: `4${String(i).padStart(7, '0')}`, member: true }));
			// Every other new contact is refused: 64 fail, 64 are sent, all under way together.
			for (let i = 0; i < 128; i += 2) simulator.injectFault({ fault: notAVippsUser, path: PATHS.checkIn, phoneNumber: `474${String(i).padStart(7, '0')}` });

			const mixed = await run({ items: newContacts, options: { skipRepeats: 'sameDay', concurrency: 128 }, continueOnFail: true });
			expect(outputOf(mixed).filter((json) => json.checkInId)).toHaveLength(64);

			const records = new Set(processedData.valuesOf('harness', 'vipps'));
			// 64 successes may push out the 64 oldest records; every later one is still there.
			expect(recorded.slice(64).filter((key) => !records.has(key))).toEqual([]);
			expect(records.size).toBeGreaterThanOrEqual(10_000);
		});
	});
});

describe("Skip Repeats windows, in the workflow's timezone", () => {
	/** Checks Kari in at each local time, one execution each; returns what each execution did. */
	async function runsAt(skipRepeats: IDataObject, times: string[], timezone = TIMEZONE): Promise<string[]> {
		const outcomes: string[] = [];
		for (const time of times) {
			clockAt(time, timezone);
			const [json] = outputOf(await run({ items: [KARI], options: skipRepeats }, timezone));
			outcomes.push(json.skipped ? 'skipped' : 'sent');
		}
		return outcomes;
	}

	it('Within the Same Hour: a new hour sends again', async () => {
		expect(await runsAt({ skipRepeats: 'sameHour' }, ['2026-11-25T14:00:00', '2026-11-25T14:59:59.999', '2026-11-25T15:00:00'])).toEqual([
			'sent',
			'skipped',
			'sent',
		]);
	});

	it("The Same Day: midnight in the workflow's timezone, not UTC's, starts a new day", async () => {
		// 23:30 and 00:30 in New York are the same day in UTC (04:30 and 05:30), different days in New York.
		expect(
			await runsAt({ skipRepeats: 'sameDay' }, ['2026-11-25T00:00:00', '2026-11-25T23:30:00', '2026-11-26T00:30:00'], 'America/New_York'),
		).toEqual(['sent', 'skipped', 'sent']);
	});

	it('Within a Number of Minutes: a sliding window, up to a fifth longer, across hours', async () => {
		const minutes = { skipRepeats: 'minutes', skipRepeatsMinutes: 10 };
		// 14:55 → 15:04:59 is within 10 minutes across an hour; 15:07 is 12 minutes on: sent again.
		expect(await runsAt(minutes, ['2026-11-25T14:55:00', '2026-11-25T15:04:59', '2026-11-25T15:07:00'])).toEqual(['sent', 'skipped', 'sent']);
	});

	it('Within a Number of Minutes: says how far back the earlier check-in can be', async () => {
		clockAt('2026-11-25T14:55:00');
		await run({ items: [KARI], options: { skipRepeats: 'minutes', skipRepeatsMinutes: 10 } });
		clockAt('2026-11-25T15:01:00');
		const second = await run({ items: [KARI], options: { skipRepeats: 'minutes', skipRepeatsMinutes: 10 } });
		// 15:01 lies in the 2-minute slot 15:00–15:02; a check-in that blocks it began at 14:50 at the earliest.
		expect(outputOf(second)).toEqual([skipped('2026-11-25T14:50:00', '2026-11-25T15:01:00')]);
	});

	it('Off sends every time', async () => {
		expect(await runsAt({ skipRepeats: 'off' }, ['2026-11-25T14:00:00', '2026-11-25T14:00:01'])).toEqual(['sent', 'sent']);
		expect(processedData.valuesOf('harness', 'vipps')).toEqual([]);
	});
});
