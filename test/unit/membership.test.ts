import { parseMembershipFlag } from '../../nodes/VippsCheckIn/helpers/membership';

// The yes and no words themselves are tested in yesNo.test.ts.
describe('parseMembershipFlag', () => {
	it.each<[unknown]>([[true], ['ja'], ['member'], [' Member ']])('reads %p as a member', (input) => {
		expect(parseMembershipFlag(input)).toEqual({ valid: true, isMember: true });
	});

	it.each<[unknown]>([[false], ['nei'], [0]])('reads %p as not a member', (input) => {
		expect(parseMembershipFlag(input)).toEqual({ valid: true, isMember: false });
	});

	it.each<[unknown]>([['non-member'], ['maybe'], [undefined]])('refuses to guess for %p, naming the shape', (input) => {
		const result = parseMembershipFlag(input);
		expect(result).toEqual({ valid: false, problem: expect.stringMatching(/^Expected true or false \(or yes\/no, ja\/nei, 1\/0\); got /) });
	});
});
