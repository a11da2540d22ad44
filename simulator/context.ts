import type { TokenStore } from './tokenStore';
import type { CheckInResponseStyle, Environment, SimulatorKeys } from './types';

/** The simulator's state as the endpoint handlers need it. */
export interface SimulatorContext {
	readonly keys: SimulatorKeys;
	readonly now: () => number;
	readonly tokens: TokenStore;
	readonly tokenLifetimeSeconds: number;
	readonly environment: Environment;
	/** Registered personal QR codes → MSISDN. */
	readonly personalQrCodes: Map<string, string>;
	checkInResponseStyle: CheckInResponseStyle;
}
