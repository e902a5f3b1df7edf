#!/usr/bin/env python3
"""A third-party cabinet for tests: a pymodbus TCP server with nutgiao's register map v1
(docs/modbus.md, default bases), written independently of the Rust code. It accepts a plan
when the commit register carries the plan block's CRC-16/MODBUS and then reports the plan in
effect and central mode; it counts heartbeats.

Usage: cabinet.py PORT STATE_FILE  (STATE_FILE gets one JSON line per accepted commit)
"""
import json
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import StartTcpServer

PLAN_LEN = 116
COMMAND_BASE = 200
STATUS_LEN = 15


def crc16(words):
    crc = 0xFFFF
    for w in words:
        for b in (w >> 8, w & 0xFF):
            crc ^= b
            for _ in range(8):
                crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


class Holding(ModbusSequentialDataBlock):
    def __init__(self, status, state_file):
        super().__init__(0, [0] * 256)
        self.status = status
        self.state_file = state_file

    def setValues(self, address, values):
        # pymodbus passes 1-based addresses to the data block.
        start = address - 1
        if start == COMMAND_BASE and len(values) == 1:
            plan = super().getValues(1, PLAN_LEN)
            if values[0] != crc16(plan):
                self.status.set_status(8, 11)
                raise ValueError("checksum mismatch")
            self.status.set_status(5, plan[0])  # plan in effect
            self.status.set_status(6, 1)  # central
            self.status.set_status(8, 0)
            self.status.set_status(10, values[0])
            with open(self.state_file, "a") as f:
                f.write(json.dumps({"plan_id": plan[0], "cycle": plan[1], "offset": plan[2],
                                    "splits": plan[4:4 + plan[3]]}) + "\n")
        if start == COMMAND_BASE + 1 and len(values) == 1:
            self.status.set_status(11, values[0])
        super().setValues(address, values)


class Inputs(ModbusSequentialDataBlock):
    def __init__(self):
        super().__init__(0, [0] * 256)
        self.set_status(0, 1)  # map version
        self.set_status(6, 2)  # local until a commit
        self.set_status(14, 12)  # detectors (all zero counts)

    def set_status(self, reg, value):
        super().setValues(reg + 1, [value])


def main():
    port, state_file = int(sys.argv[1]), sys.argv[2]
    inputs = Inputs()
    store = ModbusSlaveContext(
        di=ModbusSequentialDataBlock(0, [0] * 16),
        co=ModbusSequentialDataBlock(0, [1] + [0] * 15),
        hr=Holding(inputs, state_file),
        ir=inputs,
    )
    StartTcpServer(context=ModbusServerContext(slaves=store, single=True), address=("127.0.0.1", port))


if __name__ == "__main__":
    main()
