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
 * Within this n8n process, a contact whose check-in is under way (in this execution or another of
 * the same node) is not looked up until that check-in ends: sent, the later one is a repeat;
 * failed, the later one tries. Across queue-mode workers nothing waits: a second worker may send
 * the same contact in the same moments.
 *
 * - Same Hour / Same Day: the bucket is the calendar hour or day in the workflow's timezone.
 * - Within N Minutes: a sliding window. Time is cut into slots of N/5 minutes; a check-in claims
 *   its slot and, once sent, also records the next 5, so any check-in in those slots — at least N
 *   and at most N + N/5 minutes later — finds a record in its own slot. One key is looked up per
 *   check-in.
 */
import { DateTime } from 'luxon';
import type { ICheckProcessedOptions, IExecuteFunctions } from 'n8n-workflow';

export type RepeatWindow = { kind: 'sameHour' } | { kind: 'sameDay' } | { kind: 'minutes'; minutes: number };

/**
 * Records kept per node (n8n drops the oldest beyond this, plus one per check-in under way): one per
 * check-in, six in minutes mode.
 */
export const MAX_RECORDS = 10_000;

/** Slots per window in minutes mode: a repeat is skipped for up to a fifth longer than asked. */
export const SLOTS_PER_WINDOW = 5;

/** When the earlier check-in took place, as precisely as the records tell. */
export interface PreviousCheckIn {
	from: DateTime;
	to: DateTime;
}

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
	private waiting: Array<{ keys: string[]; remove: boolean; settle: (error: unknown, added?: Set<string>) => void }> = [];
	private writing = false;

	constructor(
		private readonly context: IExecuteFunctions,
		private readonly node: string,
	) {}

	/** Records `keys`; resolves to those that were not recorded before. */
	async record(keys: string[]): Promise<Set<string>> {
		return await this.enqueue(keys, false);
	}

	async remove(keys: string[]): Promise<void> {
		await this.enqueue(keys, true);
	}

	private enqueue(keys: string[], remove: boolean): Promise<Set<string>> {
		return new Promise((resolve, reject) => {
			this.waiting.push({ keys, remove, settle: (error, added) => (error ? reject(error) : resolve(added!)) });
			if (!this.writing) void this.write();
		});
	}

	private async write(): Promise<void> {
		this.writing = true;
		while (this.waiting.length) {
			const batch = this.waiting;
			this.waiting = [];
			try {
				const added = await withNodeLock(this.node, async () => {
					const { helpers } = this.context;
					// Every claim in the records that may still be given back belongs to a check-in under
					// way here: n8n trims to the cap plus those, so giving one back leaves the cap's worth.
					const options: ICheckProcessedOptions = { mode: 'entries', maxEntries: MAX_RECORDS + (underWay.get(this.node)?.size ?? 0) };
					// Removals first: a check-in that failed gives its claim back before a retry claims it.
					const removals = batch.filter((entry) => entry.remove).flatMap((entry) => entry.keys);
					if (removals.length) await helpers.removeProcessed(removals, 'node', options);
					const records = batch.filter((entry) => !entry.remove).flatMap((entry) => entry.keys);
					if (!records.length) return new Set<string>();
					const { new: added } = await helpers.checkProcessedAndRecord(records, 'node', options);
					return new Set(added.map(String));
				});
				for (const entry of batch) entry.settle(undefined, added);
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

	constructor(
		context: IExecuteFunctions,
		private readonly window: RepeatWindow,
		private readonly timezone: string,
	) {
		this.node = `${context.getWorkflow().id}:${context.getNode().id}`;
		this.book = new RecordBook(context, this.node);
	}

	/**
	 * Runs `send` unless `contact` was checked in within the window. A check-in of the same contact
	 * under way in this process (this batch or another execution of the node) is waited for first:
	 * sent, this one is a repeat; failed, this one tries.
	 */
	async checkIn<T>(contact: string, send: () => Promise<T>): Promise<GuardedCheckIn<T>> {
		for (let earlier = underWay.get(this.node)?.get(contact); earlier; earlier = underWay.get(this.node)?.get(contact)) {
			const previous = await earlier;
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
				outcome = { from: since, to: now };
				return { skipped: outcome };
			}
			let sent = false;
			try {
				const result = await send();
				sent = true;
				const at = DateTime.now().setZone(this.timezone);
				outcome = { from: at, to: at };
				// Sent: a failed write of the later slots only shortens the window, never fails the item.
				if (extend.length) await this.book.record(extend).catch(() => undefined);
				return { sent: result };
			} finally {
				// A failed send gives its claim back. Its error is the one to report: a failed removal only leaves the slot claimed.
				if (!sent) await this.book.remove([claim]).catch(() => undefined);
			}
		} finally {
			contacts.delete(contact);
			if (!contacts.size) underWay.delete(this.node);
			settle(outcome);
		}
	}
}
