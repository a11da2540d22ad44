import { DateTime } from 'luxon';

import { SLOTS_PER_WINDOW, bucketKeys, contactKey, type RepeatWindow } from '../../nodes/VippsCheckIn/actions/checkIn/repeatGuard';

const CONTACT = contactKey('123456', '4791234567', true);
const oslo = (iso: string) => DateTime.fromISO(iso, { zone: 'Europe/Oslo' });

/** Whether a check-in at `later` finds a record that a check-in at `earlier` wrote. */
function blocks(window: RepeatWindow, earlier: DateTime, later: DateTime): boolean {
	const first = bucketKeys(window, CONTACT, earlier);
	return [first.claim, ...first.extend].includes(bucketKeys(window, CONTACT, later).claim);
}

describe('contactKey', () => {
	it('is the MSN, the MSISDN and Is Member; a check-in without an MSN has a key of its own', () => {
		expect(contactKey('123456', '4791234567', true)).toBe('123456:4791234567:member');
		expect(contactKey(null, '4791234567', true)).toBe('-:4791234567:member');
		expect(contactKey('123456', '4791234567', false)).toBe('123456:4791234567:non-member');
	});
});

describe('bucketKeys: Within the Same Hour', () => {
	const window: RepeatWindow = { kind: 'sameHour' };

	it("is the calendar hour in the workflow's timezone", () => {
		expect(blocks(window, oslo('2026-11-25T14:00:00'), oslo('2026-11-25T14:59:59.999'))).toBe(true);
		expect(blocks(window, oslo('2026-11-25T14:59:59.999'), oslo('2026-11-25T15:00:00'))).toBe(false);
		expect(bucketKeys(window, CONTACT, oslo('2026-11-25T14:23:05'))).toEqual({
			claim: '123456:4791234567:member:hour:2026-11-25T14:00:00.000+01:00',
			extend: [],
			since: oslo('2026-11-25T14:00:00'),
		});
	});

	it('keeps the two 02:00 hours of the autumn clock change apart', () => {
		const first = DateTime.fromISO('2026-10-25T02:30:00+02:00', { setZone: true }).setZone('Europe/Oslo');
		const second = DateTime.fromISO('2026-10-25T02:30:00+01:00', { setZone: true }).setZone('Europe/Oslo');
		expect(blocks(window, first, second)).toBe(false);
	});

	it('follows the timezone: 14:30 in Oslo and 14:30 in Kolkata (+05:30) are different hours', () => {
		const at = oslo('2026-11-25T14:30:00');
		expect(bucketKeys(window, CONTACT, at.setZone('Asia/Kolkata')).since.toISO()).toBe('2026-11-25T19:00:00.000+05:30');
	});
});

describe('bucketKeys: The Same Day', () => {
	const window: RepeatWindow = { kind: 'sameDay' };

	it("is the calendar day in the workflow's timezone", () => {
		expect(blocks(window, oslo('2026-11-25T00:00:00'), oslo('2026-11-25T23:59:59.999'))).toBe(true);
		expect(blocks(window, oslo('2026-11-25T23:59:59.999'), oslo('2026-11-26T00:00:00'))).toBe(false);
		expect(bucketKeys(window, CONTACT, oslo('2026-11-25T14:23:05'))).toEqual({
			claim: '123456:4791234567:member:day:2026-11-25',
			extend: [],
			since: oslo('2026-11-25T00:00:00'),
		});
	});

	it('is not the UTC day: 00:30 in Oslo is still the day before in UTC', () => {
		expect(blocks(window, oslo('2026-11-25T23:30:00'), oslo('2026-11-26T00:30:00'))).toBe(false);
		const utc = (iso: string) => DateTime.fromISO(iso, { zone: 'UTC' });
		expect(blocks({ kind: 'sameDay' }, utc('2026-11-25T22:30:00'), utc('2026-11-25T23:30:00'))).toBe(true);
	});
});

describe('bucketKeys: Within a Number of Minutes', () => {
	const window: RepeatWindow = { kind: 'minutes', minutes: 10 };
	const slot = 2; // 10 minutes / 5 slots

	it('records the slot of the check-in and the next five', () => {
		const keys = bucketKeys(window, CONTACT, oslo('2026-11-25T14:03:00'));
		expect(keys.extend).toHaveLength(SLOTS_PER_WINDOW);
		expect(new Set([keys.claim, ...keys.extend]).size).toBe(SLOTS_PER_WINDOW + 1);
		expect(keys.since).toEqual(oslo('2026-11-25T13:52:00'));
	});

	it('blocks every repeat less than the window later, whatever the position in the slot', () => {
		for (const start of ['14:02:00.000', '14:02:00.001', '14:03:59.999']) {
			const earlier = oslo(`2026-11-25T${start}`);
			for (let ms = 0; ms < 10 * 60_000; ms += 7_919) {
				expect({ start, ms, blocked: blocks(window, earlier, earlier.plus({ milliseconds: ms })) }).toEqual({ start, ms, blocked: true });
			}
		}
	});

	it('blocks at most a fifth of the window longer (one slot), and never an earlier time', () => {
		const earlier = oslo('2026-11-25T14:02:00');
		expect(blocks(window, earlier, oslo('2026-11-25T14:13:59.999'))).toBe(true);
		expect(blocks(window, earlier, oslo('2026-11-25T14:14:00'))).toBe(false);
		expect(blocks(window, earlier, earlier.minus({ milliseconds: 1 }))).toBe(false);
		const late = oslo('2026-11-25T14:03:59.999');
		expect(blocks(window, late, late.plus({ minutes: 10, milliseconds: 1 }))).toBe(false);
	});

	it('says how far back the earlier check-in can be: the window and at most one slot', () => {
		const at = oslo('2026-11-25T14:13:00');
		const { since } = bucketKeys(window, CONTACT, at);
		expect(at.diff(since, 'minutes').minutes).toBeGreaterThanOrEqual(10);
		expect(at.diff(since, 'minutes').minutes).toBeLessThanOrEqual(10 + slot);
		expect(since.zoneName).toBe('Europe/Oslo');
	});

	it('keeps windows of different lengths apart', () => {
		const at = oslo('2026-11-25T14:03:00');
		expect(bucketKeys({ kind: 'minutes', minutes: 10 }, CONTACT, at).claim).not.toBe(bucketKeys({ kind: 'minutes', minutes: 20 }, CONTACT, at).claim);
	});
});
