"""Prints every TXT record that crosses the link, as a JSON line, for sksd's no-revert test.

Usage: mdns-sniffer.py ADDRESS. Binds UDP 5353 (shared), joins 224.0.0.251 on ADDRESS and
decodes each response with python-zeroconf's parser: what was sent, not what a cache kept.
"""
import json
import socket
import sys
import time

from zeroconf import DNSIncoming, DNSText


def main():
    address = sys.argv[1]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("0.0.0.0", 5353))
    group = socket.inet_aton("224.0.0.251") + socket.inet_aton(address)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group)
    print(json.dumps({"event": "ready", "t": time.time()}), flush=True)
    while True:
        data, _ = sock.recvfrom(9000)
        packet = DNSIncoming(data)
        if not packet.valid or packet.is_query():
            continue
        answers = packet.answers() if callable(packet.answers) else packet.answers
        for record in answers:
            if isinstance(record, DNSText):
                strings, text, i = [], record.text, 0
                while i < len(text):
                    strings.append(text[i + 1 : i + 1 + text[i]].decode("utf-8", "replace"))
                    i += 1 + text[i]
                line = {"event": "txt", "t": time.time(), "name": record.name,
                        "ttl": record.ttl, "strings": strings}
                print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
