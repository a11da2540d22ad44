import { parseMembershipFlag } from '../../nodes/VippsCheckIn/helpers/membership';

describe('parseMembershipFlag', () => {
	it.each<[unknown]>([
		[true],
		[1],
		['true'],
		['TRUE'],
		['yes'],
		['Yes'],
		['y'],
		['1'],
		['ja'],
		['JA'],
		['j'],
		['on'],
		['member'],
		['  yes  '],
	])('reads %p as a member', (input) => {
		expect(parseMembershipFlag(input)).toEqual({ valid: true, isMember: true });
	});

	it.each<[unknown]>([[false], [0], ['false'], ['False'], ['no'], ['n'], ['0'], ['nei'], ['NEI'], ['off'], [' no\n']])(
		'reads %p as not a member',
		(input) => {
			expect(parseMembershipFlag(input)).toEqual({ valid: true, isMember: false });
		},
	);

	it.each<[unknown]>([
		[''],
		['   '],
		['maybe'],
		['2'],
		['non-member'],
		['truee'],
		[2],
		[-1],
		[0.5],
		[null],
		[undefined],
		[{}],
		[[true]],
	])('refuses to guess for %p', (input) => {
		expect(parseMembershipFlag(input).valid).toBe(false);
	});

	it('names what it accepts and the shape it got', () => {
		const result = parseMembershipFlag('maybe');
		expect(result.valid).toBe(false);
		if (result.valid) return;
		expect(result.problem).toContain('true or false');
		expect(result.problem).toContain('ja/nei');
		expect(result.problem).toContain('"maybe"');
	});

	it('describes a missing value as empty, not as a word', () => {
		const result = parseMembershipFlag(undefined);
		expect(!result.valid && result.problem).toContain('nothing');
	});
});
