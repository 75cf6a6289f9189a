"""A python-zeroconf browser for sksd's discovery tests: prints one JSON line per event.

Usage: zeroconf-browser.py ADDRESS [TYPE]. Runs until stdin closes (or SIGTERM); every Added or
Updated service is resolved and printed with its name, server, addresses, port and TXT.
"""
import json
import sys
import time

from zeroconf import IPVersion, ServiceBrowser, ServiceStateChange, Zeroconf


def emit(event, **fields):
    fields["event"] = event
    fields["t"] = time.time()
    print(json.dumps(fields), flush=True)


def on_change(zeroconf, service_type, name, state_change):
    if state_change is ServiceStateChange.Removed:
        emit("removed", name=name)
        return
    info = zeroconf.get_service_info(service_type, name, timeout=2000)
    if info is None:
        emit("unresolved", name=name, change=state_change.name)
        return
    txt = {
        k.decode("utf-8", "replace"): (v.decode("utf-8", "replace") if v is not None else None)
        for k, v in info.properties.items()
    }
    emit(
        state_change.name.lower(),
        name=name,
        server=info.server,
        addresses=info.parsed_addresses(),
        port=info.port,
        txt=txt,
    )


def main():
    address = sys.argv[1]
    service_type = sys.argv[2] if len(sys.argv) > 2 else "_sksd._tcp.local."
    zc = Zeroconf(interfaces=[address], ip_version=IPVersion.V4Only)
    ServiceBrowser(zc, service_type, handlers=[on_change])
    emit("ready")
    try:
        sys.stdin.read()
    finally:
        zc.close()


if __name__ == "__main__":
    main()
