/**
 * Skip Repeats: a phone number (with its MSN) already checked in within the chosen window is not
 * sent again.
 *
 * The records live in n8n's database, through n8n's own deduplication helpers (scope "node",
 * mode "entries", as the Remove Duplicates node keeps them), so they hold across executions,
 * restarts and queue-mode workers. A record is a key `<msn>:<msisdn>:<window>:<bucket>`: a check-in
 * claims its bucket's key before it is sent, and gives it back when the send fails, so only
 * successful check-ins block later ones.
 *
 * - Same Hour / Same Day: the bucket is the calendar hour or day in the workflow's timezone.
 * - Within N Minutes: a sliding window. Time is cut into slots of N/5 minutes; a check-in claims
 *   its slot and also records the next 5, so any check-in in those slots — at least N and at most
 *   N + N/5 minutes later — finds a record in its own slot. One key is looked up per check-in.
 */
import { DateTime } from 'luxon';
import type { ICheckProcessedOptions, IExecuteFunctions } from 'n8n-workflow';

export type RepeatWindow = { kind: 'sameHour' } | { kind: 'sameDay' } | { kind: 'minutes'; minutes: number };

/** Records kept per node (n8n drops the oldest beyond this): one per check-in, six in minutes mode. */
export const MAX_RECORDS = 10_000;

/** Slots per window in minutes mode: a repeat is skipped for up to a fifth longer than asked. */
export const SLOTS_PER_WINDOW = 5;

const RECORD_OPTIONS: ICheckProcessedOptions = { mode: 'entries', maxEntries: MAX_RECORDS };

/** When the earlier check-in took place, as precisely as the records tell. */
export interface PreviousCheckIn {
	from: DateTime;
	to: DateTime;
}

export interface BucketKeys {
	/** Present in n8n's records ⇔ a check-in within the window; recorded when this one is sent. */
	claim: string;
	/** Recorded with the claim: the later slots this check-in blocks (minutes mode). */
	extend: string[];
	/** The earliest a check-in that recorded `claim` can have taken place. */
	since: DateTime;
}

/** The records a check-in of `contact` (`<msn>:<msisdn>`) at `at` looks up and writes. */
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

export function contactKey(merchantSerialNumber: string | null, msisdn: string): string {
	return `${merchantSerialNumber ?? '-'}:${msisdn}`;
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
		private readonly lockName: string,
	) {}

	/** Records `keys`; resolves to those that were not recorded before. */
	async record(keys: string[]): Promise<Set<string>> {
		return await this.enqueue(keys, false);
	}

	async remove(keys: string[]): Promise<void> {
		if (keys.length) await this.enqueue(keys, true);
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
				const added = await withNodeLock(this.lockName, async () => {
					const { helpers } = this.context;
					// Removals first: a check-in that failed gives its slot back before a retry claims it.
					const removals = batch.filter((entry) => entry.remove).flatMap((entry) => entry.keys);
					if (removals.length) await helpers.removeProcessed(removals, 'node', RECORD_OPTIONS);
					const records = batch.filter((entry) => !entry.remove).flatMap((entry) => entry.keys);
					if (!records.length) return new Set<string>();
					const { new: added } = await helpers.checkProcessedAndRecord(records, 'node', RECORD_OPTIONS);
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

export type GuardedCheckIn<T> = { sent: T } | { skipped: PreviousCheckIn };

/** Skip Repeats for one execution of one node. */
export class RepeatGuard {
	private readonly book: RecordBook;
	/** Per contact, the outcome of its latest check-in in this execution: the earlier check-in, or undefined if none was sent. */
	private readonly latest = new Map<string, Promise<PreviousCheckIn | undefined>>();

	constructor(
		context: IExecuteFunctions,
		private readonly window: RepeatWindow,
		private readonly timezone: string,
	) {
		this.book = new RecordBook(context, `${context.getWorkflow().id}:${context.getNode().id}`);
	}

	/**
	 * Runs `send` unless `contact` was checked in within the window. The same contact twice in one
	 * batch waits for the first: sent, the second is a repeat; failed, the second tries.
	 */
	async checkIn<T>(contact: string, send: () => Promise<T>): Promise<GuardedCheckIn<T>> {
		const before = this.latest.get(contact);
		let outcome: PreviousCheckIn | undefined;
		let settle!: (outcome: PreviousCheckIn | undefined) => void;
		this.latest.set(contact, new Promise((resolve) => (settle = resolve)));
		try {
			outcome = await before;
			if (outcome) return { skipped: outcome };

			const now = DateTime.now().setZone(this.timezone);
			const { claim, extend, since } = bucketKeys(this.window, contact, now);
			const added = await this.book.record([claim, ...extend]);
			const ours = [claim, ...extend].filter((key) => added.has(key));
			if (!added.has(claim)) {
				// A repeat: the later slots it recorded would stretch the earlier check-in's window.
				await this.book.remove(ours);
				outcome = { from: since, to: now };
				return { skipped: outcome };
			}
			let sent = false;
			try {
				const result = await send();
				sent = true;
				const at = DateTime.now().setZone(this.timezone);
				outcome = { from: at, to: at };
				return { sent: result };
			} finally {
				// A failed send gives its records back. Its error is the one to report: a failed removal only leaves the slot claimed.
				if (!sent) await this.book.remove(ours).catch(() => undefined);
			}
		} finally {
			settle(outcome);
		}
	}
}
