/**
 * Certificates made at test time with openssl: a CA, a server certificate for 127.0.0.1, and a
 * client certificate, all signed by the CA, plus a second CA whose client certificate the server
 * must refuse. Valid for one day, written to a temporary directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by another CA. */
  strangerCert: string;
  strangerKey: string;
  /** Removes the directory: `using certs = makeCerts()`. */
  [Symbol.dispose](): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function ca(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '1', '-subj', `/CN=${name}`]);
}

function leaf(dir: string, name: string, signer: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.pem`, '-CAkey', `${signer}.key`, '-CAcreateserial',
    '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`]);
}

/** Whether openssl can be run here. */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'natsrpc-certs-'));
  ca(dir, 'test-ca');
  ca(dir, 'other-ca');
  leaf(dir, 'server', 'test-ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf(dir, 'client', 'test-ca', 'extendedKeyUsage=clientAuth\n');
  leaf(dir, 'stranger', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  const f = (n: string) => join(dir, n);
  return {
    dir,
    ca: f('test-ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    strangerCert: f('stranger.pem'),
    strangerKey: f('stranger.key'),
    [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The environment the shipped cluster-tls.conf reads. */
export function tlsEnv(certs: TestCerts): Record<string, string> {
  return { NATS_TLS_SERVER_CERT: certs.serverCert, NATS_TLS_SERVER_KEY: certs.serverKey, NATS_TLS_CA: certs.ca };
}
