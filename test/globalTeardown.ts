import { rmSync } from 'node:fs';

export default function globalTeardown(): void {
	const userFolder = process.env.N8N_USER_FOLDER;
	if (userFolder) rmSync(userFolder, { recursive: true, force: true });
}
