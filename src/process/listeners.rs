//! TCP listeners on this host: which ports are bound in LISTEN state, and by which socket inode
//! (the inode leads to the owning process through `/proc/PID/fd`, see
//! [`super::tree::socket_owners`]).
//!
//! Asked through the kernel's `sock_diag` netlink interface (sock_diag(7), what `ss -lt` uses)
//! with a LISTEN-only state filter, so the kernel walks only its listening hash. Reading
//! `/proc/net/tcp` instead walks the whole established hash, whose size follows the machine's
//! memory (about 1.6 ms per family on a 24 GiB host even when empty); that is the fallback when
//! netlink is unavailable (a seccomp filter, an old kernel).

use netlink_packet_core::{NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_sock_diag::{
    AF_INET, AF_INET6, IPPROTO_TCP, SockDiagMessage,
    inet::{ExtensionFlags, InetRequest, SocketId, StateFlags},
};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_SOCK_DIAG};

/// TCP ports in LISTEN state on any local address (IPv4 and IPv6), as `(port, socket inode)`,
/// sorted and without duplicates.
pub(crate) fn listening_ports() -> Vec<(u16, u64)> {
    let mut out = match (dump_listeners(AF_INET), dump_listeners(AF_INET6)) {
        (Ok(mut v4), Ok(v6)) => {
            v4.extend(v6);
            v4
        }
        _ => from_proc(),
    };
    out.sort_unstable();
    out.dedup();
    out
}

/// One sock_diag dump of the TCP sockets of `family` (`AF_INET` or `AF_INET6`) in LISTEN state.
///
/// Errors: netlink unavailable, or a reply that cannot be decoded.
fn dump_listeners(family: u8) -> std::io::Result<Vec<(u16, u64)>> {
    let bad = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let mut request = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::LISTEN,
            socket_id: if family == AF_INET {
                SocketId::new_v4()
            } else {
                SocketId::new_v6()
            },
        })
        .into(),
    );
    request.finalize();
    let mut buf = vec![0; request.buffer_len()];
    request.serialize(&mut buf);
    socket.send(&buf, 0)?;

    let mut out = Vec::new();
    let mut reply = vec![0u8; 32 * 1024];
    loop {
        let size = socket.recv(&mut &mut reply[..], 0)?;
        let mut offset = 0;
        while offset < size {
            let chunk = reply
                .get(offset..size)
                .ok_or_else(|| bad(format!("sock_diag: a reply of {size} bytes overran the buffer")))?;
            let msg = <NetlinkMessage<SockDiagMessage>>::deserialize(chunk).map_err(|e| bad(e.to_string()))?;
            match msg.payload {
                NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => {
                    out.push((r.header.socket_id.source_port, u64::from(r.header.inode)));
                }
                NetlinkPayload::Done(_) => return Ok(out),
                NetlinkPayload::Error(e) => return Err(bad(format!("sock_diag: {e:?}"))),
                _ => {}
            }
            let len = msg.header.length as usize;
            if len == 0 {
                break;
            }
            offset += len;
        }
    }
}

/// The same from `/proc/net/tcp` and `/proc/net/tcp6` (slower, see the module doc).
fn from_proc() -> Vec<(u16, u64)> {
    let mut out = Vec::new();
    for table in [procfs::net::tcp(), procfs::net::tcp6()].into_iter().flatten() {
        for e in table {
            if e.state == procfs::net::TcpState::Listen {
                out.push((e.local_address.port(), e.inode));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn netlink_and_proc_agree_on_a_fresh_listener() {
        let v4 = TcpListener::bind("127.0.0.1:0").expect("bind v4");
        let port = v4.local_addr().expect("addr").port();
        let netlink = listening_ports();
        let mut proc = from_proc();
        proc.sort_unstable();
        proc.dedup();
        assert!(netlink.iter().any(|(p, _)| *p == port), "{port} missing from {netlink:?}");
        let inode = netlink.iter().find(|(p, _)| *p == port).map(|(_, i)| *i);
        assert_eq!(inode, proc.iter().find(|(p, _)| *p == port).map(|(_, i)| *i), "same socket inode");
        assert!(
            dump_listeners(AF_INET)
                .expect("sock_diag works here")
                .iter()
                .any(|(p, _)| *p == port)
        );
        drop(v4);
    }
}
