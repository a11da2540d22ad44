import { parseYesNo } from '../../nodes/VippsCheckIn/helpers/yesNo';

describe('parseYesNo', () => {
	it.each<[unknown]>([[true], [1], ['true'], ['TRUE'], ['yes'], ['Yes'], ['y'], ['1'], ['ja'], ['JA'], ['j'], ['on'], ['  yes  ']])(
		'reads %p as yes',
		(input) => {
			expect(parseYesNo(input)).toEqual({ valid: true, yes: true });
		},
	);

	it.each<[unknown]>([[false], [0], ['false'], ['False'], ['no'], ['n'], ['0'], ['nei'], ['NEI'], ['off'], [' no\n']])(
		'reads %p as no',
		(input) => {
			expect(parseYesNo(input)).toEqual({ valid: true, yes: false });
		},
	);

	it.each<[unknown]>([
		[''],
		['   '],
		['maybe'],
		['2'],
		['member'],
		['truee'],
		[2],
		[-1],
		[0.5],
		[null],
		[undefined],
		[{}],
		[[true]],
	])('refuses to guess for %p', (input) => {
		expect(parseYesNo(input).valid).toBe(false);
	});

	it('names what it accepts and the shape it got', () => {
		const result = parseYesNo('maybe');
		expect(result.valid).toBe(false);
		if (result.valid) return;
		expect(result.problem).toContain('true or false');
		expect(result.problem).toContain('ja/nei');
		expect(result.problem).toContain('"maybe"');
	});

	it('describes a missing value as empty, not as a word', () => {
		const result = parseYesNo(undefined);
		expect(!result.valid && result.problem).toContain('nothing');
	});
});
