// The project an application team makes to use Farol from the npm registry, written out by the package
// test: a package.json, a strict tsconfig, and a program that imports only from 'farol'.
// The program is kept as text here because it resolves 'farol' to the installed tarball, which this
// repository's own type check cannot see.

/** The team's package.json, depending on farol through the packed tarball at `tarball` (an absolute path). */
export function consumerPackageJson(tarball: string): object {
  return {
    name: 'farol-consumer',
    version: '1.0.0',
    private: true,
    type: 'module',
    dependencies: { farol: `file:${tarball}` },
    // npm 11 counts the `prepare` script (the repository's build) of a package installed from a tarball
    // rather than the registry as an install script, keyed by where it came from; it must not run here.
    allowScripts: { [`file:${tarball}`]: false },
  };
}

/** As strict as a team may be: every strict flag, and the package's own .d.ts files checked too. */
export const consumerTsconfig = {
  compilerOptions: {
    target: 'ES2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    types: ['node'],
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noImplicitOverride: true,
    noPropertyAccessFromIndexSignature: true,
    skipLibCheck: false,
    outDir: 'out',
  },
  include: ['main.ts'],
};

/**
 * Starts the embedded registry on an ephemeral port, registers an instance through the public Consul
 * client and lists it back, sees a call to a service nobody registered fail with a typed FarolError,
 * closes everything, and prints one JSON line. The process must then end by itself.
 */
export const consumerProgram = `
import {
  ConsulClient,
  createCertificateAuthority,
  createClient,
  createService,
  ErrorCodes,
  FarolError,
  isFarolError,
  startRegistry,
  type ErrorCode,
  type FarolClient,
  type RegistryOptions,
  type RunningRegistry,
  type ServiceEntry,
  type ServiceOptions,
} from 'farol';

const options: RegistryOptions = { port: 0 };
const registry: RunningRegistry = await startRegistry(options);
const consul = new ConsulClient({ address: registry.address });
let callError: ErrorCode | undefined;
let listed: string[] = [];
try {
  await consul.agent.registerService({ ID: 'orders-1', Name: 'orders', Address: '127.0.0.1', Port: 8443, Tags: ['packed'] });
  const { entries } = await consul.health.service('orders', { passing: true });
  listed = entries.map((entry: ServiceEntry) => entry.Service.ID);

  const ca = await createCertificateAuthority({ commonName: 'Consumer test CA' });
  const client: FarolClient = createClient({ consul, tls: { ca: { pem: ca.certPem } } });
  try {
    await client.call('billing', { path: '/v1/invoices' });
  } catch (error) {
    if (!(error instanceof FarolError) || !isFarolError(error, ErrorCodes.NO_HEALTHY_INSTANCE)) throw error;
    callError = error.code;
  } finally {
    await client.close();
  }
} finally {
  await consul.close();
  await registry.close();
}

// createService is only type-checked here: its options are part of the contract the package ships.
const serve: (opts: ServiceOptions) => ReturnType<typeof createService> = createService;
console.log(JSON.stringify({ registry: registry.address, listed, callError, createService: typeof serve }));
`;
