/**
 * Fuzz cases written by hand, briefly: every field the generator sets, at its plainest, unless the
 * test says otherwise (a valid national number, a member, no MSN, no Dry Run, no faults).
 */
import type { FuzzCase, FuzzItem } from '../../scripts/fuzz/model';

export function item(overrides: Partial<FuzzItem> = {}): FuzzItem {
	return {
		phone: { valid: 'national' },
		member: { value: true },
		msn: { absent: true },
		shop: { absent: true },
		dry: { absent: true },
		faults: [],
		...overrides,
	};
}

export function fuzzCase(overrides: Partial<FuzzCase> & Pick<FuzzCase, 'items'>): FuzzCase {
	return {
		phoneParameter: 'expression',
		memberParameter: { expression: true },
		msnOption: { absent: true },
		dryRunOption: { absent: true },
		options: { timeout: 5000 },
		onError: 'continueRegularOutput',
		tokenFaults: [],
		refusedConnections: 0,
		closedGateway: false,
		...overrides,
	};
}
