/// LZ4's block format, as USD's crate files compress their tables (`TfFastCompression`).
enum LZ4 {
    struct Error: Swift.Error { var reason: String }

    /// Decompresses one block into exactly `size` bytes (or, not `exact`, at most `size`).
    static func decompressBlock(_ input: ArraySlice<UInt8>, size: Int, exact: Bool = true) throws(Error) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(size)
        var index = input.startIndex
        let end = input.endIndex
        func length(_ nibble: Int) throws(Error) -> Int {
            var total = nibble
            guard nibble == 15 else { return total }
            while true {
                guard index < end else { throw Error(reason: "a length runs past the end") }
                let byte = Int(input[index])
                index += 1
                total += byte
                guard total <= size else { throw Error(reason: "a length is larger than the output") }
                if byte != 255 { return total }
            }
        }
        while index < end {
            let token = Int(input[index])
            index += 1
            let literals = try length(token >> 4)
            guard literals <= end - index, output.count + literals <= size else { throw Error(reason: "literals run past the end") }
            output += input[index..<(index + literals)]
            index += literals
            if index == end { break }  // the last sequence has no match
            guard end - index >= 2 else { throw Error(reason: "a match offset is cut off") }
            let offset = Int(input[index]) | Int(input[index + 1]) << 8
            index += 2
            let matchLength = try length(token & 0x0F) + 4
            guard offset > 0, offset <= output.count else { throw Error(reason: "a match points before the start") }
            guard output.count + matchLength <= size else { throw Error(reason: "a match runs past the output's size") }
            let start = output.count - offset
            for position in 0..<matchLength { output.append(output[start + position]) }  // may overlap
        }
        guard output.count == size || !exact else { throw Error(reason: "it decompresses to \(output.count) bytes, not \(size)") }
        return output
    }

    /// `TfFastCompression`: a chunk count byte (0: one block follows), else per chunk its
    /// compressed size (int32) and the block; chunks but the last decompress to 2^31 - 1
    /// bytes at most, so `size` is split the way the writer split it.
    static func decompressUSD(_ input: ArraySlice<UInt8>, size: Int, exact: Bool = true) throws(Error) -> [UInt8] {
        guard let chunks = input.first else { throw Error(reason: "it is empty") }
        var rest = input.dropFirst()
        if chunks == 0 { return try decompressBlock(rest, size: size, exact: exact) }
        var output: [UInt8] = []
        let chunkSize = 2_130_706_432  // LZ4_MAX_INPUT_SIZE, USD's chunk size
        for chunk in 0..<Int(chunks) {
            guard rest.count >= 4 else { throw Error(reason: "a chunk header is cut off") }
            let length = Int(Int32(bitPattern: UInt32(rest[rest.startIndex]) | UInt32(rest[rest.startIndex + 1]) << 8
                | UInt32(rest[rest.startIndex + 2]) << 16 | UInt32(rest[rest.startIndex + 3]) << 24))
            rest = rest.dropFirst(4)
            guard length >= 0, length <= rest.count else { throw Error(reason: "a chunk runs past the end") }
            let expected = chunk == Int(chunks) - 1 ? size - output.count : min(chunkSize, size - output.count)
            output += try decompressBlock(rest.prefix(length), size: expected, exact: exact)
            rest = rest.dropFirst(length)
        }
        return output
    }
}

/// USD's integer compression (`Usd_IntegerCompression`), under `TfFastCompression`: a common
/// delta, two bits per integer saying whether its delta from the previous one is the common one
/// or a following 8-, 16- or 32-bit value.
enum USDIntegers {
    static func decode(_ input: ArraySlice<UInt8>, count: Int) throws(LZ4.Error) -> [Int] {
        let bound = 4 + (count * 2 + 7) / 8 + count * 4
        let bytes = try LZ4.decompressUSD(input, size: bound, exact: false)
        func signed(_ at: Int, _ width: Int) throws(LZ4.Error) -> Int {
            guard at + width <= bytes.count else { throw LZ4.Error(reason: "its integers run past the end") }
            var value: UInt32 = 0
            for index in 0..<width { value |= UInt32(bytes[at + index]) << (8 * UInt32(index)) }
            let shift = UInt32(32 - 8 * width)
            return Int(Int32(bitPattern: value << shift) >> Int32(shift))
        }
        let common = try signed(0, 4)
        let codes = 4
        var values = 4 + (count * 2 + 7) / 8
        var previous = 0
        var result: [Int] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            guard codes + index / 4 < bytes.count else { throw LZ4.Error(reason: "its integer codes run past the end") }
            switch (bytes[codes + index / 4] >> (2 * UInt8(index % 4))) & 3 {
            case 0: previous &+= common
            case 1: previous &+= try signed(values, 1); values += 1
            case 2: previous &+= try signed(values, 2); values += 2
            default: previous &+= try signed(values, 4); values += 4
            }
            result.append(previous)
        }
        return result
    }
}
