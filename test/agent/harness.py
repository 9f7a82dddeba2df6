#!/usr/bin/python3
# Drives the REAL Azure Linux agent's extension code (Debian's waagent, unpacked, on PYTHONPATH)
# against a wire server of our own. Exactly one function of the agent is replaced -
# azurelinuxagent.common.utils.restutil.http_request, as the agent's own unit tests do - plus the
# 1-second sleep after each extension command (to keep the test short). Everything else - goal state
# parsing, Certificates decryption with the TransportCert the agent generates, download and unzip,
# HandlerEnvironment.json, settings files, command launch, status/heartbeat reading, the aggregate
# status upload - is the agent's own code.
#
# Protocol: JSON lines on stdin, one JSON reply per line on stdout:
#   {"op": "init", "work": DIR, "handler": "Publisher.Type", "packages": {"1.0.0": ZIP, ...}}
#   {"op": "goal_state", "version": V, "state": "enabled"|"disabled"|"uninstall", "seq": N,
#    "public": {...}, "protected": {...}|null}
#   {"op": "run"}                  ExtHandlersHandler.run() (a new handler object = an agent restart when "restart": true)
#   {"op": "report"}               report_ext_handlers_status(); returns the uploaded status blob (decoded)
#   {"op": "parse_status", "path": P}  the agent's parse_ext_status on one status file
#   {"op": "env", "set": {K: V|null}}   environment the agent gives extension commands
#   {"op": "quit"}
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from xml.sax.saxutils import escape, quoteattr

import azurelinuxagent.common.conf as conf
import azurelinuxagent.common.logger as agent_logger
import azurelinuxagent.common.event as agent_event
import azurelinuxagent.common.utils.restutil as restutil
import azurelinuxagent.common.utils.extensionprocessutil as procutil
from azurelinuxagent.common.protocol.wire import WireProtocol
from azurelinuxagent.ga.exthandlers import ExtHandlersHandler, parse_ext_status, ExtHandlerInstance
from azurelinuxagent.common.protocol.restapi import ExtensionStatus

ENDPOINT = "127.0.0.1"  # never contacted: every request is answered by FakeWireServer below
BASE = "http://" + ENDPOINT
HGAP = "http://" + ENDPOINT + ":32526"
OPENSSL = "/usr/bin/openssl"


class FakeResponse(object):
    def __init__(self, status, body=b"", headers=None):
        self.status = status
        self.reason = "OK" if status < 400 else "Error"
        self._body = body if isinstance(body, bytes) else body.encode("utf-8")
        self._pos = 0
        self._headers = headers or []

    def read(self, n=None):
        if n is None:
            data = self._body[self._pos:]
            self._pos = len(self._body)
        else:
            data = self._body[self._pos:self._pos + n]
            self._pos += len(data)
        return data

    def getheaders(self):
        return list(self._headers)

    def getheader(self, name, default=None):
        for k, v in self._headers:
            if k.lower() == name.lower():
                return v
        return default


class FakeWireServer(object):
    """The wire server, HostGAPlugin and blob storage, in-process."""

    def __init__(self, work, handler, packages):
        self.work = work
        self.handler = handler
        self.packages = packages  # version -> zip path
        self.incarnation = 0
        self.extensions_config = None
        self.uploads = []
        self.requests = []
        self.tenant_dir = os.path.join(work, "tenant")
        os.makedirs(self.tenant_dir, exist_ok=True)
        self.tenant_crt = os.path.join(self.tenant_dir, "tenant.crt")
        self.tenant_key = os.path.join(self.tenant_dir, "tenant.key")
        # The certificate the platform encrypts protected settings to (Azure: the tenant certificate
        # delivered in the Certificates document).
        subprocess.check_call([OPENSSL, "req", "-x509", "-nodes", "-newkey", "rsa:2048", "-subj", "/CN=cvm-attest-test-tenant",
                               "-days", "30", "-keyout", self.tenant_key, "-out", self.tenant_crt],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        fp = subprocess.check_output([OPENSSL, "x509", "-in", self.tenant_crt, "-noout", "-fingerprint", "-sha1"]).decode()
        self.thumbprint = fp.strip().split("=", 1)[1].replace(":", "").upper()

    # ---- documents ----
    def goal_state_xml(self):
        return """<?xml version="1.0" encoding="utf-8"?>
<GoalState xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="goalstate10.xsd">
  <Version>2012-11-30</Version>
  <Incarnation>{inc}</Incarnation>
  <Machine><ExpectedState>Started</ExpectedState><StopRolesDeadlineHint>300000</StopRolesDeadlineHint><ExpectHealthReport>FALSE</ExpectHealthReport></Machine>
  <Container>
    <ContainerId>6f3a2c1e-0000-4000-8000-00000000c0de</ContainerId>
    <RoleInstanceList>
      <RoleInstance>
        <InstanceId>cvmattest.test_IN_0</InstanceId>
        <State>Started</State>
        <Configuration>
          <HostingEnvironmentConfig>{base}/machine/?comp=config&amp;type=hostingEnvironmentConfig&amp;incarnation={inc}</HostingEnvironmentConfig>
          <SharedConfig>{base}/machine/?comp=config&amp;type=sharedConfig&amp;incarnation={inc}</SharedConfig>
          <ExtensionsConfig>{base}/machine/?comp=config&amp;type=extensionsConfig&amp;incarnation={inc}</ExtensionsConfig>
          <FullConfig>{base}/machine/?comp=config&amp;type=fullConfig&amp;incarnation={inc}</FullConfig>
          <Certificates>{base}/machine/?comp=certificates&amp;incarnation={inc}</Certificates>
          <ConfigName>cvmattest.test.0.MachineRole_IN_0.{inc}.xml</ConfigName>
        </Configuration>
      </RoleInstance>
    </RoleInstanceList>
  </Container>
</GoalState>""".format(inc=self.incarnation, base=BASE)

    def hosting_env_xml(self):
        return ('<HostingEnvironmentConfig version="1.0.0.0" goalStateIncarnation="{0}"><StoredCertificates/>'
                '<Deployment name="cvmattestdeployment" guid="{{00000000-0000-0000-0000-000000000001}}" incarnation="0">'
                '<Service name="cvmattest" guid="{{00000000-0000-0000-0000-000000000000}}"/></Deployment>'
                '<Incarnation number="1" instance="MachineRole_IN_0" guid="{{00000000-0000-0000-0000-000000000002}}"/>'
                '<Role guid="{{00000000-0000-0000-0000-000000000003}}" name="MachineRole" settleTimeSeconds="0"/>'
                '</HostingEnvironmentConfig>').format(self.incarnation)

    def certificates_xml(self):
        # Pkcs7BlobWithPfxContents: a PFX (tenant cert + key, empty password) in CMS EnvelopedData
        # encrypted to the TransportCert the agent generated at protocol detection.
        transport = os.path.join(conf.get_lib_dir(), "TransportCert.pem")
        pfx = subprocess.check_output([OPENSSL, "pkcs12", "-export", "-in", self.tenant_crt, "-inkey", self.tenant_key, "-passout", "pass:"])
        env = subprocess.run([OPENSSL, "cms", "-encrypt", "-binary", "-outform", "DER", "-aes256", transport],
                             input=pfx, stdout=subprocess.PIPE, check=True).stdout
        return ("<?xml version=\"1.0\" encoding=\"utf-8\"?><CertificateFile><Version>2012-11-30</Version>"
                "<Incarnation>{0}</Incarnation><Format>Pkcs7BlobWithPfxContents</Format><Data>{1}</Data></CertificateFile>"
                ).format(self.incarnation, base64.encodebytes(env).decode())  # 76-column lines, as openssl's SMIME reader wants

    def manifest_xml(self):
        plugins = "".join("<Plugin><Version>{0}</Version><Uris><Uri>{1}/packages/{2}__{0}.zip</Uri></Uris></Plugin>".format(v, BASE, self.handler)
                          for v in sorted(self.packages))
        return "<?xml version=\"1.0\" encoding=\"utf-8\"?><PluginVersionManifest><Plugins>{0}</Plugins><InternalPlugins/></PluginVersionManifest>".format(plugins)

    def encrypt_protected(self, obj):
        data = json.dumps(obj).encode("utf-8")
        der = subprocess.run([OPENSSL, "cms", "-encrypt", "-binary", "-outform", "DER", "-aes256", self.tenant_crt],
                             input=data, stdout=subprocess.PIPE, check=True).stdout
        return base64.b64encode(der).decode()

    def set_goal_state(self, version, state, seq, public, protected):
        self.incarnation += 1
        hs = {"publicSettings": public}
        if protected is not None:
            hs["protectedSettings"] = self.encrypt_protected(protected)
            hs["protectedSettingsCertThumbprint"] = self.thumbprint
        settings = json.dumps({"runtimeSettings": [{"handlerSettings": hs}]})
        manifest_uri = "{0}/manifests/{1}_manifest.xml".format(BASE, self.handler)
        self.extensions_config = """<?xml version="1.0" encoding="utf-8"?>
<Extensions version="1.0.0.0" goalStateIncarnation="{inc}">
  <Plugins>
    <Plugin name={name} version={ver} location={loc} state={state} autoUpgrade="false" failoverlocation={loc} runAsStartupTask="false" isJson="true" useExactVersion="true" />
  </Plugins>
  <PluginSettings>
    <Plugin name={name} version={ver}>
      <RuntimeSettings seqNo="{seq}">{settings}</RuntimeSettings>
    </Plugin>
  </PluginSettings>
  <StatusUploadBlob statusBlobType="BlockBlob">{base}/statusblob?sv=test&amp;sig=redacted</StatusUploadBlob>
</Extensions>""".format(inc=self.incarnation, name=quoteattr(self.handler), ver=quoteattr(version), loc=quoteattr(manifest_uri),
                        state=quoteattr(state), seq=int(seq), settings=escape(settings), base=BASE)

    # ---- the one replaced function ----
    def http_request(self, method, url, data, headers=None, use_proxy=False, max_retry=None, retry_codes=None,
                     retry_delay=None, redact_data=False, return_raw_response=False):
        self.requests.append((method, url))
        if not url.startswith(BASE):
            raise Exception("harness: refusing a request outside the fake wire server: " + url)
        if url.startswith(HGAP):
            path = url[len(HGAP):]
            if path.startswith("/versions"):
                return FakeResponse(200, '["2015-09-01"]')
            if path.startswith("/vmSettings"):
                return FakeResponse(404, "not supported")
            if path.startswith("/status") and method == "PUT":
                body = json.loads(data if isinstance(data, str) else bytes(data).decode("utf-8"))
                if "content" in body:
                    self.uploads.append(json.loads(base64.b64decode(body["content"]).decode("utf-8")))
                return FakeResponse(200)
            if path.startswith("/health"):
                return FakeResponse(200)
            return FakeResponse(200)
        path = url[len(BASE):]
        if method == "GET":
            if "comp=versions" in path:
                return FakeResponse(200, '<?xml version="1.0" encoding="utf-8"?><Versions><Preferred><Version>2012-11-30</Version></Preferred>'
                                         '<Supported><Version>2012-11-30</Version></Supported></Versions>')
            if "comp=goalstate" in path:
                return FakeResponse(200, self.goal_state_xml())
            if "type=hostingEnvironmentConfig" in path:
                return FakeResponse(200, self.hosting_env_xml())
            if "type=sharedConfig" in path:
                return FakeResponse(200, '<?xml version="1.0" encoding="utf-8"?><SharedConfig version="1.0.0.0" goalStateIncarnation="1"/>')
            if "type=extensionsConfig" in path:
                return FakeResponse(200, self.extensions_config or "<Extensions/>")
            if "comp=certificates" in path:
                return FakeResponse(200, self.certificates_xml())
            if path.startswith("/manifests/"):
                return FakeResponse(200, self.manifest_xml())
            if path.startswith("/packages/"):
                version = path.rsplit("__", 1)[1][:-len(".zip")]
                with open(self.packages[version], "rb") as f:
                    return FakeResponse(200, f.read())
        if method == "PUT" and path.startswith("/statusblob"):
            self.uploads.append(json.loads(bytes(data).decode("utf-8")))
            return FakeResponse(201)
        if method == "POST":
            return FakeResponse(200)  # health reports, telemetry
        return FakeResponse(404, "harness: no route for {0} {1}".format(method, url))


def fast_wait(process, timeout):
    # The agent's wait_for_process_completion_or_timeout, with 50 ms polls instead of 1 s sleeps.
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    if process.poll() is None:
        os.killpg(os.getpgid(process.pid), 9)
        return True, None
    time.sleep(0.05)
    return False, process.wait()


class Harness(object):
    def __init__(self):
        self.server = None
        self.protocol = None
        self.handler = None

    def init(self, work, handler, packages):
        lib = os.path.join(work, "lib")
        logdir = os.path.join(work, "log")
        os.makedirs(lib, exist_ok=True)
        os.makedirs(logdir, exist_ok=True)
        conf.__conf__.values.update({
            "Lib.Dir": lib, "Extension.LogDir": logdir, "Extensions.Enabled": "y", "CGroups.Enabled": "n",
            "Debug.EnableFastTrack": "n", "OS.OpensslPath": OPENSSL, "EnableOverProvisioning": "n",
        })
        agent_logger.reset_periodic()
        agent_logger.add_logger_appender(agent_logger.AppenderType.FILE, agent_logger.LogLevel.VERBOSE, os.path.join(work, "waagent.log"))
        os.makedirs(os.path.join(lib, "events"), exist_ok=True)
        agent_event.init_event_logger(os.path.join(lib, "events"))
        self.server = FakeWireServer(work, handler, packages)
        restutil.http_request = self.server.http_request
        procutil.wait_for_process_completion_or_timeout = fast_wait
        self.server.set_goal_state(sorted(packages)[0], "enabled", 0, {}, None)
        self.protocol = WireProtocol(ENDPOINT)
        self.protocol.detect()  # generates TransportCert, fetches the goal state and the Certificates
        self.handler = ExtHandlersHandler(self.protocol)
        return {"libDir": lib, "logDir": logdir, "thumbprint": self.server.thumbprint,
                "certWritten": os.path.exists(os.path.join(lib, self.server.thumbprint + ".crt")) and os.path.exists(os.path.join(lib, self.server.thumbprint + ".prv"))}

    def goal_state(self, version, state, seq, public, protected):
        self.server.set_goal_state(version, state, seq, public, protected)
        self.protocol.update_goal_state()
        return {"incarnation": self.server.incarnation}

    def run(self, restart=False):
        if restart:
            self.handler = ExtHandlersHandler(self.protocol)
        t = time.time()
        self.handler.run()
        return {"seconds": time.time() - t}

    def report(self):
        n = len(self.server.uploads)
        vm_status = self.handler.report_ext_handlers_status()
        if vm_status is None:
            raise Exception("report_ext_handlers_status failed (see waagent.log)")
        if len(self.server.uploads) == n:
            raise Exception("the agent uploaded no status")
        return {"upload": self.server.uploads[-1]}

    def parse_status(self, path):
        with open(path) as f:
            text = f.read()
        ext_status = ExtensionStatus(seq_no=0)
        try:
            parse_ext_status(ext_status, json.loads(text))
        except Exception as e:
            return {"ok": False, "error": str(e)}
        return {"ok": True, "status": ext_status.status, "code": ext_status.code, "message": ext_status.message,
                "substatus": [{"name": s.name, "status": s.status, "message": s.message} for s in ext_status.substatusList]}


def main():
    h = Harness()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        op = req.get("op")
        try:
            if op == "init":
                res = h.init(req["work"], req["handler"], req["packages"])
            elif op == "goal_state":
                res = h.goal_state(req["version"], req.get("state", "enabled"), req.get("seq", 0), req.get("public", {}), req.get("protected"))
            elif op == "run":
                res = h.run(req.get("restart", False))
            elif op == "report":
                res = h.report()
            elif op == "env":
                # The environment the agent passes to extension commands (it copies os.environ).
                for k, v in req.get("set", {}).items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
                res = {}
            elif op == "parse_status":
                res = h.parse_status(req["path"])
            elif op == "quit":
                sys.stdout.write(json.dumps({"ok": True}) + "\n")
                sys.stdout.flush()
                return
            else:
                raise Exception("unknown op " + str(op))
            sys.stdout.write(json.dumps({"ok": True, "result": res}) + "\n")
        except Exception as e:
            sys.stdout.write(json.dumps({"ok": False, "error": "{0}: {1}".format(type(e).__name__, e), "trace": traceback.format_exc()[-1500:]}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
