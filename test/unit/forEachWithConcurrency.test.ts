import { forEachWithConcurrency } from '../../nodes/VippsCheckIn/actions/batch';

/** One timer turn. */
const nextTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** A task that stays open until the test ends it, recording what happened in order. */
function controllableTasks() {
	const events: string[] = [];
	const open = new Map<number, () => void>();
	const task = (index: number) =>
		new Promise<void>((resolve) => {
			events.push(`start ${index}`);
			open.set(index, () => {
				open.delete(index);
				events.push(`end ${index}`);
				resolve();
			});
		});
	return { events, open, task };
}

describe('forEachWithConcurrency', () => {
	it('runs every index exactly once, never more than the limit at a time', async () => {
		const { events, open, task } = controllableTasks();
		let peak = 0;
		const done = forEachWithConcurrency(25, 4, undefined, (index) => {
			const running = task(index);
			peak = Math.max(peak, open.size);
			return running;
		});
		while (events.filter((event) => event.startsWith('end')).length < 25) {
			await nextTurn();
			// End the oldest open task each turn.
			const [oldest] = open.keys();
			if (oldest !== undefined) open.get(oldest)!();
		}
		await done;
		const started = events.filter((event) => event.startsWith('start')).map((event) => Number(event.slice(6)));
		expect(started).toEqual(Array.from({ length: 25 }, (_, index) => index));
		expect(peak).toBe(4);
	});

	it('starts nothing once the signal is aborted', async () => {
		const controller = new AbortController();
		const { events, open, task } = controllableTasks();
		const done = forEachWithConcurrency(10, 2, controller.signal, task);
		while (events.length < 2) await nextTurn();
		expect(events).toEqual(['start 0', 'start 1']);
		controller.abort();
		for (const end of [...open.values()]) end();
		await done;
		expect(events.filter((event) => event.startsWith('start'))).toEqual(['start 0', 'start 1']);
	});

	it("rejects with a failing task's error", async () => {
		const failure = new Error('task failed');
		const done = forEachWithConcurrency(5, 5, undefined, async (index) => {
			if (index === 0) throw failure;
			await nextTurn();
		});
		await expect(done).rejects.toBe(failure);
	});
});
