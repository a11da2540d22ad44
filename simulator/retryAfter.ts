import type { RetryAfterForm } from './types';

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const two = (value: number) => String(value).padStart(2, '0');

/**
 * A Retry-After value asking for `seconds` from `nowMs`, written in `form` (RFC 9110 §5.6.7):
 * `120`, `Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37 GMT`, `Sun Nov  6 08:49:37 1994`.
 * A date is rounded up to its whole second, so the wait it asks for is never shorter than `seconds`.
 */
export function formatRetryAfter(seconds: number, form: RetryAfterForm, nowMs: number): string {
	if (form === 'delta-seconds') return String(seconds);
	const at = new Date(Math.ceil((nowMs + seconds * 1000) / 1000) * 1000);
	const time = `${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${two(at.getUTCSeconds())}`;
	const day = DAYS[at.getUTCDay()];
	const month = MONTHS[at.getUTCMonth()];
	switch (form) {
		case 'imf-fixdate':
			return `${day.slice(0, 3)}, ${two(at.getUTCDate())} ${month} ${at.getUTCFullYear()} ${time} GMT`;
		case 'rfc850':
			return `${day}, ${two(at.getUTCDate())}-${month}-${two(at.getUTCFullYear() % 100)} ${time} GMT`;
		case 'asctime':
			return `${day.slice(0, 3)} ${month} ${String(at.getUTCDate()).padStart(2, ' ')} ${time} ${at.getUTCFullYear()}`;
		default:
			throw new RangeError(`unknown Retry-After form '${String(form)}'`);
	}
}
