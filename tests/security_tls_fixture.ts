/**
 * Test fixture: a throwaway CA and a `localhost` certificate made with the openssl CLI,
 * so TLS tests need nothing from outside the repo but `openssl` (apt package).
 * @module
 */

/** PEM files of a test PKI, removed by `remove()`. */
export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  readonly cert: string;
  readonly key: string;
  remove(): Promise<void>;
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command("openssl", { args, cwd: dir, stderr: "piped" })
    .output();
  if (code !== 0) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
}

/** Creates a CA and a leaf certificate for localhost / 127.0.0.1 valid for one day. */
export async function createTestPki(): Promise<TestPki> {
  const dir = await Deno.makeTempDir({ prefix: "arqon-tls-" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(
    dir,
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=arqon test CA",
  );
  await openssl(
    dir,
    "req",
    ...ec,
    "-keyout",
    "leaf.key",
    "-out",
    "leaf.csr",
    "-subj",
    "/CN=localhost",
  );
  await Deno.writeTextFile(
    `${dir}/leaf.ext`,
    "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "leaf.pem",
    "-days",
    "1",
    "-extfile",
    "leaf.ext",
  );
  const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
  return {
    dir,
    caCert: await read("ca.pem"),
    cert: await read("leaf.pem"),
    key: await read("leaf.key"),
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Runs `openssl s_client` with `versionFlag` (`-tls1_2`, `-tls1_3`); returns exit code and output. */
export async function sClient(
  port: number,
  versionFlag: string,
  caFile: string,
): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await new Deno.Command("openssl", {
    args: [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-servername",
      "localhost",
      versionFlag,
      "-CAfile",
      caFile,
      "-brief",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, output: text.decode(stdout) + text.decode(stderr) };
}
