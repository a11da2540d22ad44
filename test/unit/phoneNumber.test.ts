import { describeShape, normalizePhoneNumber } from '../../nodes/VippsCheckIn/helpers/phoneNumber';

function problemOf(value: unknown): string {
	const result = normalizePhoneNumber(value);
	if (result.valid) throw new Error(`expected ${JSON.stringify(value)} to be rejected, got ${result.msisdn}`);
	return result.problem;
}

describe('normalizePhoneNumber', () => {
	describe('accepts the shapes forms and CRMs hand over and returns 47 + 8 digits', () => {
		it.each<[string, unknown]>([
			['international with spaces', '+47 912 34 567'],
			['00 prefix', '0047 91234567'],
			['bracketed country code and dashes', '(+47) 912-34-567'],
			['8 national digits', '91234567'],
			['country code without plus', '4791234567'],
			['country code without plus, spaced', '47 91 23 45 67'],
			['JSON number with country code', 4791234567],
			['JSON number without country code', 91234567],
			['non-breaking spaces', '912\u00a034\u00a0567'],
			['narrow non-breaking spaces', '+47\u202f912\u202f34\u202f567'],
			['dots', '912.34.567'],
			['slashes', '912/34/567'],
			['en dashes', '912\u201334\u2013567'],
			['surrounding whitespace', '  91234567\n'],
			['00 prefix with spaces everywhere', '00 47 912 34 567'],
		])('%s: %p', (_label, input) => {
			expect(normalizePhoneNumber(input)).toEqual({ valid: true, msisdn: '4791234567' });
		});

		it('keeps a national number that itself starts with 47', () => {
			expect(normalizePhoneNumber('47123456')).toEqual({ valid: true, msisdn: '4747123456' });
		});

		it('returns the MSISDN as a string even for a JSON number', () => {
			const result = normalizePhoneNumber(91234567);
			expect(result.valid && typeof result.msisdn).toBe('string');
		});
	});

	describe('sends only mobile numbers: 8 digits starting with 4 or 9', () => {
		const national = (first: number) => `${first}1234567`;
		const shapes = (digits: string): Array<[string, unknown]> => [
			['8 digits', digits],
			['+47', `+47 ${digits}`],
			['0047', `0047${digits}`],
			['47 without plus', `47${digits}`],
			['JSON number', Number(digits)],
			['JSON number with 47', Number(`47${digits}`)],
		];

		describe.each([4, 9])('first digit %i: a mobile number, sent', (first) => {
			it.each(shapes(national(first)))('%s', (_label, input) => {
				expect(normalizePhoneNumber(input)).toEqual({ valid: true, msisdn: `47${national(first)}` });
			});
		});

		describe.each([0, 1, 2, 3, 5, 6, 7, 8])('first digit %i: a landline or service number, refused', (first) => {
			// A JSON number cannot start with 0: 01234567 is the number 1234567, refused for its 7 digits.
			const cases = shapes(national(first)).filter(([label]) => first !== 0 || label !== 'JSON number');
			it.each(cases)('%s', (_label, input) => {
				const problem = problemOf(input);
				expect(problem).toContain('Vipps needs a Norwegian mobile number, 8 digits starting with 4 or 9');
				expect(problem).toContain(`starts with ${first}, so it looks like a landline or service number`);
			});
		});

		it.each(['12345678', '23456789', '51234567', '81234567'])('refuses %p, naming the value', (input) => {
			expect(problemOf(input)).toMatch(new RegExp(`landline or service number; got the text "${input}" \\(8 digits\\)$`));
		});

		it('refuses 01234567 as a number too, for its 7 digits', () => {
			expect(problemOf(1234567)).toContain('8 digits starting with 4 or 9');
		});
	});

	describe('digits typed in another script are named, not called "no digits"', () => {
		it.each<[string, string, string]>([
			['full-width', '１２３４５６７８', '8 digits in another script (full-width)'],
			['Arabic-Indic', '٩١٢٣٤٥٦٧', '8 digits in another script (Arabic-Indic)'],
			['Persian', '۹۱۲۳۴۵۶۷', '8 digits in another script (Persian)'],
			['Devanagari, spaced', '९१२ ३४ ५६७', '8 digits in another script (Devanagari)'],
			['mixed with 0–9', '91٢٣٤٥٦٧', '2 digits and 6 in another script (Arabic-Indic)'],
			['a script without a name here', '\u{1d7d7}1234567', '7 digits and 1 in another script)'],
		])('%s: %p', (_label, input, shape) => {
			const problem = problemOf(input);
			expect(problem).toMatch(/^Expected the digits 0–9; got the text/);
			expect(problem).toContain(shape);
			expect(problem).not.toContain('no digits');
		});

		it('still names the script when a full-width plus makes the text unreadable', () => {
			expect(problemOf('＋４７ １２３４５６７８')).toContain('(10 digits in another script (full-width), with letters or other characters)');
		});
	});

	describe('rejects what it cannot read as a Norwegian number', () => {
		it.each<[string, unknown]>([
			['Swedish number', '+46 70 123 45 67'],
			['Swedish number with 00', '0046701234567'],
			['7 digits', '9123456'],
			['9 digits', '912345678'],
			['11 digits with 47', '47912345678'],
			['+47 with 7 digits', '+47 912 34 56'],
			['+47 with 9 digits', '+47 912 34 5678'],
			['letters', 'call me'],
			['digits with letters', '912 34 567 (mobile)'],
			['empty text', ''],
			['only spaces', '   '],
			['null', null],
			['undefined', undefined],
			['boolean', true],
			['object', { phone: '91234567' }],
			['array', ['91234567']],
			['fractional number', 91234567.5],
			['negative number', -91234567],
			['NaN', Number.NaN],
			['Infinity', Number.POSITIVE_INFINITY],
			['doubled country code', '+47 0047 91234567'],
			['plus in the middle', '47+91234567'],
			['a lone plus', '+'],
		])('%s: %p', (_label, input) => {
			expect(normalizePhoneNumber(input).valid).toBe(false);
		});
	});

	describe('rejection messages name the value and its shape', () => {
		it('counts the digits of a too-short number', () => {
			expect(problemOf('9123456')).toContain('"9123456" (7 digits)');
		});

		it('counts the digits of a too-long number', () => {
			expect(problemOf('912345678')).toContain('(9 digits)');
		});

		it('says a foreign number is not Norwegian', () => {
			const problem = problemOf('+46 70 123 45 67');
			expect(problem).toContain('+47');
			expect(problem).toContain('Norwegian');
			expect(problem).toContain('"+46 70 123 45 67"');
		});

		it('says how many digits followed +47', () => {
			expect(problemOf('+47 912 34 56')).toContain('found 7');
		});

		it('flags a doubled country code by the digits it left after +47', () => {
			expect(problemOf('+47 0047 91234567')).toContain('found 12');
		});

		it('mentions letters when the text has them', () => {
			expect(problemOf('call me')).toContain('with letters or other characters');
		});

		it('calls an empty text empty', () => {
			expect(problemOf('')).toContain('empty');
		});

		it.each<[unknown, string]>([
			[null, 'null'],
			[undefined, 'nothing'],
			[true, 'boolean'],
			[{ phone: '91234567' }, 'object'],
			[['91234567', '92345678'], 'a list of 2 values'],
			[91234567.5, 'the number 91234567.5, which has a fractional part'],
			[-91234567, 'the number -91234567'],
		])('describes %p as %p', (input, shape) => {
			expect(problemOf(input)).toContain(shape);
		});
	});
});

describe('describeShape', () => {
	it('uses the singular for one digit and one value', () => {
		expect(describeShape('a1')).toBe('the text "a1" (1 digit, with letters or other characters)');
		expect(describeShape([1])).toBe('a list of 1 value');
	});

	it('shows at most 40 characters of a long text', () => {
		const long = '9'.repeat(50);
		const shape = describeShape(long);
		expect(shape).toContain(`"${'9'.repeat(40)}…"`);
		expect(shape).not.toContain('9'.repeat(41));
		expect(shape).toContain('(50 digits)');
	});

	it('does not call separators and a leading plus "other characters"', () => {
		expect(describeShape('(+47) 912-34.567')).toBe('the text "(+47) 912-34.567" (10 digits)');
	});

	it('calls a whitespace-only text empty', () => {
		expect(describeShape(' \t ')).toBe('an empty text');
	});

	it('counts digits of every script, naming the ones not typed as 0–9', () => {
		expect(describeShape('１２３４')).toBe('the text "１２３４" (4 digits in another script (full-width))');
		expect(describeShape('٩x')).toBe('the text "٩x" (1 digit in another script (Arabic-Indic), with letters or other characters)');
		expect(describeShape('9١')).toBe('the text "9١" (1 digit and 1 in another script (Arabic-Indic))');
	});

	it('describes whole and fractional numbers', () => {
		expect(describeShape(42)).toBe('the number 42');
		expect(describeShape(4.2)).toBe('the number 4.2, which has a fractional part');
	});
});
