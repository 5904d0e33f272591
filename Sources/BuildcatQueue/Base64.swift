/// Standard base64: RQ 3 stores results and error texts in it.
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> [UInt8] {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let count = min(3, bytes.count - index)
            var triple = UInt32(bytes[index]) << 16
            if count > 1 { triple |= UInt32(bytes[index + 1]) << 8 }
            if count > 2 { triple |= UInt32(bytes[index + 2]) }
            for position in 0..<4 {
                out.append(position <= count ? alphabet[Int(triple >> (18 - 6 * UInt32(position)) & 0x3F)] : UInt8(ascii: "="))
            }
            index += 3
        }
        return out
    }

    static func decode(_ bytes: [UInt8]) -> [UInt8]? {
        var values: [UInt8] = []
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): values.append(byte - 65)
            case UInt8(ascii: "a")...UInt8(ascii: "z"): values.append(byte - 71)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): values.append(byte + 4)
            case UInt8(ascii: "+"): values.append(62)
            case UInt8(ascii: "/"): values.append(63)
            case UInt8(ascii: "="), 0x0A, 0x0D: continue
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 3 / 4)
        var index = 0
        while index + 1 < values.count {
            let chunk = values[index..<min(index + 4, values.count)].map(UInt32.init) + [0, 0, 0]
            let triple = chunk[0] << 18 | chunk[1] << 12 | chunk[2] << 6 | chunk[3]
            let available = min(values.count - index, 4)
            out.append(UInt8(triple >> 16 & 0xFF))
            if available > 2 { out.append(UInt8(triple >> 8 & 0xFF)) }
            if available > 3 { out.append(UInt8(triple & 0xFF)) }
            index += 4
        }
        return out
    }
}
