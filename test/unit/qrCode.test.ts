import { qrCodeCreatedAt } from '../../nodes/VippsCheckIn/helpers/qrCode';

describe('qrCodeCreatedAt', () => {
	it.each<[string, unknown, string]>([
		['unix seconds as documented', 1634025600, '2021-10-12T08:00:00.000Z'],
		['unix seconds as a numeric string', '1634025600', '2021-10-12T08:00:00.000Z'],
		['a numeric string with spaces around it', ' 1634025600\n', '2021-10-12T08:00:00.000Z'],
		['fractional seconds', 1634025600.5, '2021-10-12T08:00:00.500Z'],
		['fractional seconds as a string', '1634025600.25', '2021-10-12T08:00:00.250Z'],
		['the epoch', 0, '1970-01-01T00:00:00.000Z'],
		['the last second a Date can hold', 8.64e12, '+275760-09-13T00:00:00.000Z'],
	])('reads %s', (_label, timestamp, iso) => {
		expect(qrCodeCreatedAt(timestamp)).toBe(iso);
	});

	it.each<[string, unknown]>([
		['no timestamp (a version 1.0 code)', undefined],
		['null', null],
		['out of range for a date', 1e20],
		['just past the last second a Date can hold', 8.64e12 + 1],
		['out of range as a string', '100000000000000000000'],
		['negative', -1],
		['a negative string', '-1634025600'],
		['NaN', Number.NaN],
		['Infinity', Number.POSITIVE_INFINITY],
		['an ISO date instead of seconds', '2021-10-12T08:00:00Z'],
		['an empty text', ''],
		['a hex string', '0x61651d00'],
		['exponent notation in a string', '1.6e9'],
		['a boolean', true],
		['an object', { seconds: 1634025600 }],
		['a list', [1634025600]],
	])('gives null, never throws, for %s', (_label, timestamp) => {
		expect(qrCodeCreatedAt(timestamp)).toBeNull();
	});
});
