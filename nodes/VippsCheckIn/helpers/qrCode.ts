/**
 * When a personal QR code was made, from the `timestamp` of Vipps's QR exchange answer: unix
 * seconds, documented as an integer, which a server may also send as a numeric string. The time
 * is a detail of the answer, never a reason to fail it: anything unreadable or out of range gives null.
 */

/** The latest instant a JavaScript Date can hold, in seconds (8.64e15 ms). */
const MAX_DATE_SECONDS = 8.64e12;

export function qrCodeCreatedAt(timestamp: unknown): string | null {
	const seconds = secondsOf(timestamp);
	if (!Number.isFinite(seconds) || seconds < 0 || seconds > MAX_DATE_SECONDS) return null;
	return new Date(seconds * 1000).toISOString();
}

function secondsOf(timestamp: unknown): number {
	if (typeof timestamp === 'number') return timestamp;
	if (typeof timestamp === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(timestamp)) return Number(timestamp);
	return Number.NaN;
}
