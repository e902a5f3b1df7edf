//! The Modbus TCP face of a cabinet: one server per intersection. Reads are open to any
//! client; writes only to allow-listed addresses (others get exception 0x01).

use std::future::{Ready, ready};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio_modbus::server::tcp::Server;
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

use super::cabinet::Cabinet;

pub type SharedCabinet = Arc<Mutex<Cabinet>>;

#[derive(Debug)]
struct CabinetService {
    cabinet: SharedCabinet,
    may_write: bool,
    unit_id: u8,
    peer: SocketAddr,
}

impl CabinetService {
    fn handle(&self, req: Request<'static>) -> Result<Response, ExceptionCode> {
        let mut cab = self.cabinet.lock().map_err(|_| ExceptionCode::ServerDeviceFailure)?;
        let writes = matches!(
            req,
            Request::WriteSingleCoil(..)
                | Request::WriteMultipleCoils(..)
                | Request::WriteSingleRegister(..)
                | Request::WriteMultipleRegisters(..)
                | Request::MaskWriteRegister(..)
                | Request::ReadWriteMultipleRegisters(..)
        );
        if writes && !self.may_write {
            tracing::warn!(intersection = %cab.intersection().id, peer = %self.peer, "write from a client not on the allow list refused");
            return Err(ExceptionCode::IllegalFunction);
        }
        match req {
            Request::ReadInputRegisters(a, n) => cab.read_input_registers(a, n).map(Response::ReadInputRegisters),
            Request::ReadHoldingRegisters(a, n) => cab.read_holding_registers(a, n).map(Response::ReadHoldingRegisters),
            Request::ReadCoils(a, n) => cab.read_coils(a, n).map(Response::ReadCoils),
            Request::ReadDiscreteInputs(a, n) => cab.read_discrete_inputs(a, n).map(Response::ReadDiscreteInputs),
            Request::WriteSingleRegister(a, v) => {
                cab.write_registers(a, &[v]).map(|()| Response::WriteSingleRegister(a, v))
            }
            Request::WriteMultipleRegisters(a, words) => {
                cab.write_registers(a, &words).map(|()| Response::WriteMultipleRegisters(a, words.len() as u16))
            }
            Request::WriteSingleCoil(a, v) => cab.write_coils(a, &[v]).map(|()| Response::WriteSingleCoil(a, v)),
            Request::WriteMultipleCoils(a, coils) => {
                cab.write_coils(a, &coils).map(|()| Response::WriteMultipleCoils(a, coils.len() as u16))
            }
            _ => Err(ExceptionCode::IllegalFunction),
        }
    }
}

impl tokio_modbus::server::Service for CabinetService {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = Ready<Result<Self::Response, Self::Exception>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        // Unit 0 and 255 are the usual "whatever is behind this socket" ids of Modbus TCP.
        if req.slave != self.unit_id && req.slave != 0 && req.slave != 255 {
            return ready(Err(ExceptionCode::GatewayTargetDevice));
        }
        ready(self.handle(req.request).map(Some))
    }
}

/// Is `ip` on the allow list (addresses as written in the site file)?
pub fn allowed(allow: &[String], ip: IpAddr) -> bool {
    allow.iter().any(|a| a.parse::<IpAddr>().is_ok_and(|x| x == ip || x.to_canonical() == ip.to_canonical()))
}

/// Serves one cabinet on `listener` until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    cabinet: SharedCabinet,
    allow: Vec<String>,
    unit_id: u8,
) -> std::io::Result<()> {
    let server = Server::new(listener);
    let on_connected = |stream, peer: SocketAddr| {
        let service = CabinetService { cabinet: cabinet.clone(), may_write: allowed(&allow, peer.ip()), unit_id, peer };
        async move { Ok(Some((service, stream))) }
    };
    server.serve(&on_connected, |e| tracing::debug!("modbus connection ended: {e}")).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use nutgiao_controller::modbus::client::FieldLink;
    use nutgiao_controller::modbus::map::{MAP_REVISION, status_reg};
    use nutgiao_controller::plan::Coordination;
    use nutgiao_controller::{CorridorPlan, Mode};

    use super::*;

    /// The same cabinet behind a map v1.0 face: its status block ends before REVISION.
    #[derive(Debug)]
    struct V1_0(CabinetService);

    impl tokio_modbus::server::Service for V1_0 {
        type Request = SlaveRequest<'static>;
        type Response = Option<Response>;
        type Exception = ExceptionCode;
        type Future = Ready<Result<Self::Response, Self::Exception>>;

        fn call(&self, req: Self::Request) -> Self::Future {
            match req.request {
                Request::ReadInputRegisters(a, n) if a + n > status_reg::LEN_V1_0 => {
                    ready(Err(ExceptionCode::IllegalDataAddress))
                }
                _ => self.0.call(req),
            }
        }
    }

    fn site() -> nutgiao_config::Site {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/arterial.toml");
        nutgiao_config::load(p).unwrap()
    }

    #[tokio::test]
    async fn the_central_reads_the_revision_and_still_drives_a_v1_0_cabinet() {
        let site = site();
        let j1 = site.intersection("J1").unwrap();
        let plan = CorridorPlan::named(&site, "webster").unwrap().intersections[0]
            .clone()
            .with_coordination(Coordination::ActuatedCoordinated);
        for v1_0 in [false, true] {
            let cab: SharedCabinet = Arc::new(Mutex::new(Cabinet::new(&site, j1).unwrap()));
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let task = if v1_0 {
                let cab = cab.clone();
                tokio::spawn(async move {
                    let on_connected = |stream, peer: SocketAddr| {
                        let service = V1_0(CabinetService { cabinet: cab.clone(), may_write: true, unit_id: 1, peer });
                        async move { Ok(Some((service, stream))) }
                    };
                    let _ = Server::new(listener).serve(&on_connected, |_| {}).await;
                })
            } else {
                let cab = cab.clone();
                tokio::spawn(async move {
                    let _ = serve(listener, cab, vec!["127.0.0.1".into()], 1).await;
                })
            };
            let mut link = FieldLink::to_address(j1, &site.modbus_map, &addr.to_string(), 1, Duration::from_secs(2));
            let status = link.read_status().await.unwrap();
            assert_eq!(status.revision, if v1_0 { 0 } else { MAP_REVISION });
            assert_eq!(status.detector_count, 12);
            link.push_plan(&plan).await.unwrap();
            assert_eq!(
                link.read_status().await.unwrap().mode,
                Some(nutgiao_controller::modbus::map::ControlMode::Central)
            );
            if !v1_0 {
                assert!(matches!(cab.lock().unwrap().sequencer().mode(), Mode::Coordinated(p) if *p == plan));
            }
            task.abort();
        }
    }
}
