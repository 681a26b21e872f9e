import CZlib

/// gzip compression through zlib, for pprof profiles (`go tool pprof` and the
/// profiling backends expect `profile.proto` gzipped).
public enum Gzip {
    /// Why zlib refused.
    public struct Failure: Error, CustomStringConvertible {
        /// zlib's return code.
        public var code: Int32
        /// `memtrace: gzip: …`.
        public var description: String { "memtrace: gzip: zlib error \(code)" }
    }

    /// The gzip member (RFC 1952) holding `bytes`, at zlib's default level.
    ///
    /// - Parameter bytes: the data to compress.
    /// - Returns: a complete `.gz` file.
    /// - Throws: ``Failure`` when zlib fails (out of memory).
    public static func compress(_ bytes: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
        var rc = deflateInit2_(
            &stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
            Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw Failure(code: rc) }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 32)
        var input = bytes
        rc = input.withUnsafeMutableBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                stream.next_in = source.baseAddress
                stream.avail_in = uInt(source.count)
                stream.next_out = destination.baseAddress
                stream.avail_out = uInt(destination.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard rc == Z_STREAM_END else { throw Failure(code: rc) }
        output.removeLast(output.count - Int(stream.total_out))
        return output
    }

    /// The data inside a gzip (or zlib) stream.
    ///
    /// - Parameter bytes: compressed bytes.
    /// - Returns: the uncompressed data.
    /// - Throws: ``Failure`` when the input is not a complete gzip or zlib stream.
    public static func decompress(_ bytes: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 32: detect gzip or zlib headers.
        var rc = inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw Failure(code: rc) }
        defer { inflateEnd(&stream) }
        var input = bytes
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        try input.withUnsafeMutableBufferPointer { source in
            stream.next_in = source.baseAddress
            stream.avail_in = uInt(source.count)
            repeat {
                let produced = chunk.withUnsafeMutableBufferPointer { destination -> Int in
                    stream.next_out = destination.baseAddress
                    stream.avail_out = uInt(destination.count)
                    rc = inflate(&stream, Z_NO_FLUSH)
                    return destination.count - Int(stream.avail_out)
                }
                output.append(contentsOf: chunk[0..<produced])
                if rc != Z_OK && rc != Z_STREAM_END { throw Failure(code: rc) }
                if rc == Z_OK && stream.avail_in == 0 && produced == 0 { throw Failure(code: Z_BUF_ERROR) }
            } while rc != Z_STREAM_END
        }
        return output
    }
}
