/**
 * Skip Repeats: a contact (phone number, MSN and Is Member) already checked in within the chosen
 * window is not sent again.
 *
 * The records live in n8n's database, through n8n's own deduplication helpers (scope "node",
 * mode "entries", as the Remove Duplicates node keeps them), so they hold across executions,
 * restarts and queue-mode workers. A record is a key `<contact>:<window>:<bucket>`.
 *
 * n8n's helpers have no lookup that leaves the records as they are: checkProcessedAndRecord
 * records every key it did not know, and drops the oldest beyond `maxEntries`. So a check-in
 * looks up by claiming its key, sends, and keeps the claim when the send succeeds or gives it back
 * when it fails. Every write lets the records grow by the check-ins under way in this process, so
 * a claim that is later given back never pushes out the record of a check-in that took place.
 *
 * A send that failed but may have reached Vipps all the same (the transport's possibleDuplicate: a
 * timeout, a 502–504, a cancel after the request was written) keeps its claim as a possible
 * check-in, marked by a second key `<claim>:possible`: the next run skips it and says so. A repeat
 * finds out which it met by probing that mark (recorded and at once removed again, under the lock).
 *
 * Within this n8n process, a contact whose check-in is under way (in this execution or another of
 * the same node) is not looked up until that check-in ends (or this execution is cancelled): sent
 * or possibly sent, the later one is a repeat; failed, the later one tries. Across queue-mode
 * workers nothing waits: a second worker may send the same contact in the same moments.
 *
 * - Same Hour / Same Day: the bucket is the calendar hour or day in the workflow's timezone.
 * - Within N Minutes: a sliding window. Time is cut into slots of N/5 minutes; a check-in claims
 *   its slot and, once sent, also records the next 5, so any check-in in those slots — at least N
 *   and at most N + N/5 minutes later — finds a record in its own slot. One key is looked up per
 *   check-in.
 */
import { DateTime } from 'luxon';
import type { ICheckProcessedOptions, IExecuteFunctions } from 'n8n-workflow';

import { VippsError } from '../../helpers/vippsErrors';

export type RepeatWindow = { kind: 'sameHour' } | { kind: 'sameDay' } | { kind: 'minutes'; minutes: number };

/**
 * Records kept per node (n8n drops the oldest beyond this, plus one per check-in under way): one per
 * check-in, six in minutes mode; twice that for a possible check-in.
 */
export const MAX_RECORDS = 10_000;

/** Slots per window in minutes mode: a repeat is skipped for up to a fifth longer than asked. */
export const SLOTS_PER_WINDOW = 5;

/** When the earlier check-in took place, as precisely as the records tell. */
export interface PreviousCheckIn {
	from: DateTime;
	to: DateTime;
	/** False when it failed but may have reached Vipps all the same. */
	confirmed: boolean;
}

/** The mark beside a claim that a possible check-in keeps. */
const possible = (key: string) => `${key}:possible`;

/** The transport's fact: an attempt may have reached Vipps, though the check-in failed. */
const mayHaveArrived = (error: unknown) => error instanceof VippsError && error.details.possibleDuplicate === true;

export interface BucketKeys {
	/** Present in n8n's records ⇔ a check-in within the window; claimed before this one is sent. */
	claim: string;
	/** Recorded once this check-in is sent: the later slots it blocks (minutes mode). */
	extend: string[];
	/** The earliest a check-in that recorded `claim` can have taken place. */
	since: DateTime;
}

/** The records a check-in of `contact` (contactKey) at `at` looks up and writes. */
export function bucketKeys(window: RepeatWindow, contact: string, at: DateTime): BucketKeys {
	switch (window.kind) {
		case 'sameHour': {
			const since = at.startOf('hour');
			return { claim: `${contact}:hour:${since.toISO()}`, extend: [], since };
		}
		case 'sameDay': {
			const since = at.startOf('day');
			return { claim: `${contact}:day:${since.toISODate()}`, extend: [], since };
		}
		case 'minutes': {
			const slotMs = (window.minutes * 60_000) / SLOTS_PER_WINDOW;
			const slot = Math.floor(at.toMillis() / slotMs);
			const key = (n: number) => `${contact}:${window.minutes}min:${n}`;
			return {
				claim: key(slot),
				extend: Array.from({ length: SLOTS_PER_WINDOW }, (_, i) => key(slot + 1 + i)),
				since: DateTime.fromMillis((slot - SLOTS_PER_WINDOW) * slotMs, { zone: at.zone }),
			};
		}
	}
}

/** What makes a repeat: the same MSN, phone number and Is Member (a non-member check-in shows nothing in the app). */
export function contactKey(merchantSerialNumber: string | null, msisdn: string, isMember: boolean): string {
	return `${merchantSerialNumber ?? '-'}:${msisdn}:${isMember ? 'member' : 'non-member'}`;
}

/**
 * One call to n8n's helpers at a time per node in this n8n process, carrying every key waiting.
 * n8n's helper reads the node's whole record list and writes it back without a lock: calls at once
 * (two executions of one node, or the items of one batch) would each lose the other's keys, and a
 * call per item would rewrite the list once per item.
 */
class RecordBook {
	private waiting: Array<{ keys: string[]; action: 'record' | 'remove' | 'probe'; settle: (error: unknown, added?: Set<string>) => void }> = [];
	private writing = false;

	constructor(
		private readonly context: IExecuteFunctions,
		private readonly node: string,
	) {}

	/** Records `keys`; resolves to those that were not recorded before. */
	async record(keys: string[]): Promise<Set<string>> {
		return await this.enqueue(keys, 'record');
	}

	async remove(keys: string[]): Promise<void> {
		await this.enqueue(keys, 'remove');
	}

	/** Resolves to those of `keys` that are not recorded, and leaves the records as they were. */
	async probe(keys: string[]): Promise<Set<string>> {
		return await this.enqueue(keys, 'probe');
	}

	private enqueue(keys: string[], action: 'record' | 'remove' | 'probe'): Promise<Set<string>> {
		return new Promise((resolve, reject) => {
			this.waiting.push({ keys, action, settle: (error, added) => (error ? reject(error) : resolve(added!)) });
			if (!this.writing) void this.write();
		});
	}

	private async write(): Promise<void> {
		this.writing = true;
		while (this.waiting.length) {
			const batch = this.waiting;
			this.waiting = [];
			const keysTo = (action: 'record' | 'remove' | 'probe') => batch.filter((entry) => entry.action === action).flatMap((entry) => entry.keys);
			try {
				const added = await withNodeLock(this.node, async () => {
					const { helpers } = this.context;
					// Every claim in the records that may still be given back belongs to a check-in under
					// way here: n8n trims to the cap plus those, so giving one back leaves the cap's worth.
					const maxEntries = MAX_RECORDS + (underWay.get(this.node)?.size ?? 0);
					const options: ICheckProcessedOptions = { mode: 'entries', maxEntries };
					// Removals first: a check-in that failed gives its claim back before a retry claims it.
					const removals = keysTo('remove');
					if (removals.length) await helpers.removeProcessed(removals, 'node', options);
					const records = keysTo('record');
					const recorded = records.length ? (await helpers.checkProcessedAndRecord(records, 'node', options)).new : [];
					// A probe records what it asks about (room made for it, so nothing is trimmed) and removes the new ones again.
					const probes = keysTo('probe');
					const probed = probes.length ? (await helpers.checkProcessedAndRecord(probes, 'node', { ...options, maxEntries: maxEntries + probes.length })).new : [];
					if (probed.length) await helpers.removeProcessed(probed, 'node', options);
					return { record: new Set(recorded.map(String)), probe: new Set(probed.map(String)), remove: new Set<string>() };
				});
				for (const entry of batch) entry.settle(undefined, added[entry.action]);
			} catch (error) {
				for (const entry of batch) entry.settle(error);
			}
		}
		this.writing = false;
	}
}

const nodeLocks = new Map<string, Promise<unknown>>();

async function withNodeLock<T>(name: string, task: () => Promise<T>): Promise<T> {
	const before = nodeLocks.get(name) ?? Promise.resolve();
	const mine = before.then(task);
	const tail = mine.catch(() => undefined);
	nodeLocks.set(name, tail);
	try {
		return await mine;
	} finally {
		if (nodeLocks.get(name) === tail) nodeLocks.delete(name);
	}
}

/** Per node of this n8n process, per contact: the check-in under way, resolving to when it took place (undefined if it failed). */
const underWay = new Map<string, Map<string, Promise<PreviousCheckIn | undefined>>>();

export type GuardedCheckIn<T> = { sent: T } | { skipped: PreviousCheckIn };

/** Skip Repeats for one execution of one node. */
export class RepeatGuard {
	private readonly book: RecordBook;
	private readonly node: string;
	/** Rejects when this execution is cancelled: a wait for another execution's check-in ends then. */
	private readonly cancelled: Promise<never>;

	constructor(
		context: IExecuteFunctions,
		private readonly window: RepeatWindow,
		private readonly timezone: string,
	) {
		this.node = `${context.getWorkflow().id}:${context.getNode().id}`;
		this.book = new RecordBook(context, this.node);
		const signal = context.getExecutionCancelSignal();
		this.cancelled = new Promise((_, reject) => {
			const cancel = () => reject(new Error('The workflow execution was cancelled while this check-in waited for the same customer\'s check-in in another execution'));
			if (signal?.aborted) cancel();
			else signal?.addEventListener('abort', cancel, { once: true });
		});
		this.cancelled.catch(() => undefined);
	}

	/**
	 * Runs `send` unless `contact` was checked in within the window. A check-in of the same contact
	 * under way in this process (this batch or another execution of the node) is waited for first:
	 * sent or possibly sent, this one is a repeat; failed, this one tries.
	 */
	async checkIn<T>(contact: string, send: () => Promise<T>): Promise<GuardedCheckIn<T>> {
		for (let earlier = underWay.get(this.node)?.get(contact); earlier; earlier = underWay.get(this.node)?.get(contact)) {
			const previous = await Promise.race([earlier, this.cancelled]);
			if (previous) return { skipped: previous };
		}
		let contacts = underWay.get(this.node);
		if (!contacts) underWay.set(this.node, (contacts = new Map()));
		let outcome: PreviousCheckIn | undefined;
		let settle!: (outcome: PreviousCheckIn | undefined) => void;
		contacts.set(contact, new Promise((resolve) => (settle = resolve)));
		try {
			const now = DateTime.now().setZone(this.timezone);
			const { claim, extend, since } = bucketKeys(this.window, contact, now);
			if (!(await this.book.record([claim])).has(claim)) {
				// No mark of a possible check-in beside the claim: the earlier one was confirmed.
				const confirmed = (await this.book.probe([possible(claim)])).has(possible(claim));
				outcome = { from: since, to: now, confirmed };
				return { skipped: outcome };
			}
			let sent = false;
			let possiblySent = false;
			try {
				const result = await send().catch((error: unknown) => {
					possiblySent = mayHaveArrived(error);
					throw error;
				});
				sent = true;
				const at = DateTime.now().setZone(this.timezone);
				outcome = { from: at, to: at, confirmed: true };
				// Sent: a failed write of the later slots only shortens the window, never fails the item.
				if (extend.length) await this.book.record(extend).catch(() => undefined);
				return { sent: result };
			} finally {
				// Its error is the one to report: a failed write here only leaves the records as they were.
				if (!sent && possiblySent) {
					// It may have reached Vipps: the claim stays, as a possible check-in from the claim until now.
					outcome = { from: now, to: DateTime.now().setZone(this.timezone), confirmed: false };
					await this.book.record([...extend, ...[claim, ...extend].map(possible)]).catch(() => undefined);
				} else if (!sent) {
					await this.book.remove([claim]).catch(() => undefined);
				}
			}
		} finally {
			contacts.delete(contact);
			if (!contacts.size) underWay.delete(this.node);
			settle(outcome);
		}
	}
}
