/** The Is Member flag: yes or no (see yesNo.ts), or the word "member" some CRMs put in the field. */
import { parseYesNo } from './yesNo';

export type MembershipResult = { valid: true; isMember: boolean } | { valid: false; problem: string };

export function parseMembershipFlag(value: unknown): MembershipResult {
	if (typeof value === 'string' && value.trim().toLowerCase() === 'member') return { valid: true, isMember: true };
	const answer = parseYesNo(value);
	return answer.valid ? { valid: true, isMember: answer.yes } : answer;
}
