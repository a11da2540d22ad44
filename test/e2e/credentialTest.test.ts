/**
 * n8n's credential "Test" button, through n8n itself: `n8n start` with the packed package
 * installed, the owner set up, then the REST calls the editor makes — GET the stored credential
 * (secrets come back as n8n's blank placeholders) and POST /rest/credentials/test with the form's
 * data. n8n 2.41 (CredentialsController.testCredentials → CredentialsService.testWithCredentials)
 * merges the placeholders with the stored secrets and calls the `testedBy` method of our node.
 */
import type { IDataObject } from "n8n-workflow";

import { PATHS, type VippsSimulator } from "../../simulator/VippsSimulator";
import { simulatorCredential, startSimulator } from "../workflow/fixtures";
import { kit, type ImportedCredential, type RunningN8n } from "./kit";
import {
  E2E_TIMEOUT_MS,
  N8nUserFolder,
  VIPPS_NODE_TYPE,
  VIPPS_TOOL_TYPE,
  expectVippsSystemHeaders,
  installedN8nWorkflowVersion,
  itWithN8nLog,
} from "./support";

let simulator: VippsSimulator;
let n8n: N8nUserFolder | undefined;
let server: RunningN8n | undefined;
let cookie: string;
let credential: ImportedCredential;

const itN8n = itWithN8nLog(() => server?.logTail());

beforeAll(async () => {
  simulator = await startSimulator();
  n8n = await N8nUserFolder.create();
  const { id: _harnessId, ...simulatorKeys } = simulatorCredential(simulator);
  [credential] = await n8n.importCredentials([
    { ...simulatorKeys, name: "Vipps MobilePay API (simulator)" },
  ]);
  server = await kit.startN8n(n8n.env);
  ({ cookie } = await kit.setupOwner(server.url));
}, E2E_TIMEOUT_MS);

afterAll(async () => {
  // Stops n8n's whole process group (its task runner included) by PID.
  await server?.stop();
  n8n?.remove();
  await simulator?.close();
}, E2E_TIMEOUT_MS);

async function rest<T>(
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<{ status: number; data: T }> {
  const response = await fetch(`${server!.url}/rest${path}`, {
    method,
    headers: {
      cookie,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok)
    throw new Error(`${method} /rest${path}: HTTP ${response.status} ${text}`);
  // n8n wraps every REST answer in { data }.
  return {
    status: response.status,
    data: (JSON.parse(text) as { data: T }).data,
  };
}

/** The credential as the editor's form shows it: secrets replaced by n8n's blank placeholders. */
async function storedFormData(): Promise<IDataObject> {
  const { data } = await rest<{ data: IDataObject }>(
    "GET",
    `/credentials/${credential.id}?includeData=true`,
  );
  return data.data;
}

/** The "Test" button: the editor posts the form's current content. */
async function pressTest(
  data: IDataObject,
): Promise<{ status: string; message: string }> {
  const body = {
    credentials: {
      id: credential.id,
      name: credential.name,
      type: credential.type,
      data,
    },
  };
  return (
    await rest<{ status: string; message: string }>(
      "POST",
      "/credentials/test",
      body,
    )
  ).data;
}

describe("inside a running n8n", () => {
  itN8n(
    "lists the node, its AI-tool variant and the credential type from the installed package",
    async () => {
      const nodes = (await (
        await fetch(`${server!.url}/types/nodes.json`, { headers: { cookie } })
      ).json()) as Array<{ name: string }>;
      const names = nodes.map((node) => node.name);
      expect(names).toEqual(
        expect.arrayContaining([VIPPS_NODE_TYPE, VIPPS_TOOL_TYPE]),
      );
      const credentials = (await (
        await fetch(`${server!.url}/types/credentials.json`, {
          headers: { cookie },
        })
      ).json()) as Array<{ name: string }>;
      expect(credentials.map((type) => type.name)).toContain(
        "vippsMobilePayApi",
      );
      expect(server!.logTail(400)).not.toMatch(
        /Failed to load package|Unrecognized node type/,
      );
    },
  );

  itN8n(
    "the credential Test button succeeds with good keys (the stored secrets filled in by n8n)",
    async () => {
      const form = await storedFormData();
      // The editor never receives secrets; n8n swaps its placeholders back before testing.
      expect(form.clientSecret).toMatch(/^__n8n_BLANK_VALUE_/);
      expect(form.subscriptionKey).toMatch(/^__n8n_BLANK_VALUE_/);
      const before = simulator.requests.length;

      await expect(pressTest(form)).resolves.toEqual({
        status: "OK",
        message: "Connection successful!",
      });

      const requests = simulator.requests.slice(before);
      expect(
        requests.map((request) => `${request.status} ${request.path}`),
      ).toEqual([`200 ${PATHS.accessToken}`]);
      expect(requests[0].headers.client_id).toBe(simulator.keys.clientId);
      expectVippsSystemHeaders(requests, await installedN8nWorkflowVersion());
    },
  );

  itN8n(
    "explains a wrong Client Secret typed into the form, without echoing it",
    async () => {
      const wrongSecret = "wrong-client-secret-0123456789";
      const before = simulator.requests.length;

      const result = await pressTest({
        ...(await storedFormData()),
        clientSecret: wrongSecret,
      });

      expect(result.status).toBe("Error");
      expect(result.message).toMatch(
        /^Vipps rejected the keys \(401\)\. Client ID, Client Secret and Subscription Key must all come from the same sales unit/,
      );
      for (const secret of [
        wrongSecret,
        simulator.keys.clientSecret,
        simulator.keys.subscriptionKey,
      ]) {
        expect(result.message).not.toContain(secret);
      }
      // 401: the secret typed into the form was tested, not the stored (good) one. (n8n's
      // httpRequestWithAuthentication sends a request answered 401 once more.)
      const tested = simulator.requests.slice(before);
      expect(tested.length).toBeGreaterThan(0);
      expect(
        new Set(tested.map((request) => `${request.status} ${request.path}`)),
      ).toEqual(new Set([`401 ${PATHS.accessToken}`]));
    },
  );

  for (const url of ["http://host/a?b", "SIMULATOR/a?b"]) {
    itN8n(
      `refuses the Custom Base URL ${url} with the message the node gives, and sends nothing`,
      async () => {
        const customBaseUrl = url.replace("SIMULATOR", simulator.baseUrl);
        const before = simulator.requests.length;

        const result = await pressTest({
          ...(await storedFormData()),
          customBaseUrl,
        });

        expect(result).toEqual({
          status: "Error",
          message: `The Vipps MobilePay API credential is not valid: Custom Base URL must be scheme, host and port only (e.g. ${new URL(customBaseUrl).origin}), without a path, query or fragment`,
        });
        expect(simulator.requests.slice(before)).toEqual([]);
      },
    );
  }
});
