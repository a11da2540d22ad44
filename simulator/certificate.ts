import { execFile } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';

/** A throwaway self-signed certificate for the simulator's HTTPS mode. */
export interface SelfSignedCertificate {
	/** The certificate in PEM: it is its own CA, so a client trusts it by this file (NODE_EXTRA_CA_CERTS). */
	certPath: string;
	cert: string;
	key: string;
	/** Deletes the files. */
	remove(): void;
}

const OPENSSL = '/usr/bin/openssl';

/** Made with the openssl CLI into a fresh temp dir, valid for localhost and 127.0.0.1, for a day. */
export async function makeSelfSignedCertificate(): Promise<SelfSignedCertificate> {
	const dir = mkdtempSync(join(tmpdir(), 'vipps-simulator-tls-'));
	const certPath = join(dir, 'cert.pem');
	const keyPath = join(dir, 'key.pem');
	try {
		await promisify(execFile)(OPENSSL, [
			'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
			'-subj', '/CN=localhost',
			'-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
			'-keyout', keyPath, '-out', certPath,
		]);
		const key = readFileSync(keyPath, 'utf8');
		// Only the certificate is needed on disk (for clients to trust it).
		rmSync(keyPath);
		return {
			certPath,
			cert: readFileSync(certPath, 'utf8'),
			key,
			remove: () => rmSync(dir, { recursive: true, force: true }),
		};
	} catch (error) {
		rmSync(dir, { recursive: true, force: true });
		throw error;
	}
}
