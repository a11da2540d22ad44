import type { TokenStore } from './tokenStore';
import type { CheckInResponseStyle, Environment, PersonalQrCode, SimulatorKeys } from './types';

/** The simulator's state as the endpoint handlers need it. */
export interface SimulatorContext {
	readonly keys: SimulatorKeys;
	readonly now: () => number;
	readonly tokens: TokenStore;
	readonly tokenLifetimeSeconds: number;
	readonly environment: Environment;
	/** Registered personal QR codes → what they exchange to. */
	readonly personalQrCodes: Map<string, PersonalQrCode>;
	checkInResponseStyle: CheckInResponseStyle;
}
