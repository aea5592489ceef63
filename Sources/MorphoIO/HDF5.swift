import CHDF5
import Foundation
import MorphoCore

/// All libhdf5 calls go through this lock: the library keeps global state (identifiers, error stacks),
/// and Morpho's image stages run on many threads.
private let hdf5Lock = NSRecursiveLock()

/// An open HDF5 file (libhdf5): chunked, deflate-compressed Float32 matrices, Float64 and UTF-8 string
/// vectors, groups, and string/number attributes for provenance. Paths are "/a/b/name"; parent groups
/// are created on demand. Readable by h5py and any HDF5 tool.
public final class HDF5File {
    public let url: URL
    private var file: hid_t

    /// Creates (truncates) a file. Prefer `HDF5File.writeAtomically` for outputs.
    public init(creating url: URL) throws {
        self.url = url
        file = try HDF5File.locked {
            let id = H5Fcreate(url.path, morpho_h5f_acc_trunc(), morpho_h5p_default(), morpho_h5p_default())
            guard id >= 0 else { throw MorphoError.hdf5(path: url.path, object: "/", problem: "cannot create file: \(HDF5File.lastError())") }
            return id
        }
    }

    /// Opens an existing file for reading (or for appending with `writable`).
    public init(opening url: URL, writable: Bool = false) throws {
        self.url = url
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw MorphoError.file(path: url.path, problem: "file not found")
        }
        file = try HDF5File.locked {
            guard H5Fis_hdf5(url.path) > 0 else {
                throw MorphoError.hdf5(path: url.path, object: "/", problem: "not an HDF5 file (or truncated)")
            }
            let id = H5Fopen(url.path, writable ? morpho_h5f_acc_rdwr() : morpho_h5f_acc_rdonly(), morpho_h5p_default())
            guard id >= 0 else { throw MorphoError.hdf5(path: url.path, object: "/", problem: "cannot open: \(HDF5File.lastError())") }
            return id
        }
    }

    deinit { close() }

    /// Closes the file; later calls fail. Called by deinit if not before.
    public func close() {
        guard file >= 0 else { return }
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        H5Fclose(file)
        file = -1
    }

    /// Creates the file at a temporary path, lets `body` fill it, closes it and renames it to `url`.
    public static func writeAtomically<T>(to url: URL, _ body: (HDF5File) throws -> T) throws -> T {
        try AtomicFile.write(to: url) { tmp in
            let f = try HDF5File(creating: tmp)
            defer { f.close() }
            let result = try body(f)
            try locked {
                guard H5Fflush(f.file, H5F_SCOPE_GLOBAL) >= 0 else {
                    throw MorphoError.hdf5(path: url.path, object: "/", problem: "cannot flush: \(lastError())")
                }
            }
            return result
        }
    }

    // MARK: - writing

    /// Writes a rows x cols Float32 matrix (row-major) as a chunked, deflate-compressed dataset.
    /// `chunkRows` rows form one chunk (default: about 1 MiB per chunk).
    public func writeMatrix(_ path: String, _ values: [Float], rows: Int, cols: Int,
                            chunkRows: Int? = nil, compression: Int = 4) throws {
        guard values.count == rows * cols else {
            throw MorphoError.hdf5(path: url.path, object: path, problem: "\(values.count) values for a \(rows)x\(cols) matrix")
        }
        let rowsPerChunk = min(max(1, chunkRows ?? (262_144 / max(cols, 1))), max(rows, 1))
        try writeDataset(path, dims: [rows, cols], fileType: morpho_h5t_ieee_f32le(), memType: morpho_h5t_native_float(),
                         chunk: [rowsPerChunk, max(cols, 1)], compression: compression) { write in
            try values.withUnsafeBytes { try write($0.baseAddress!) }
        }
    }

    /// Writes an N-D Float32 array (row-major) of `shape`, in one chunk per leading item; a scalar is
    /// stored with shape [1].
    public func writeArray(_ path: String, _ values: [Float], shape: [Int], compression: Int = 4) throws {
        let dims = shape.isEmpty ? [1] : shape
        guard values.count == dims.reduce(1, *) else {
            throw MorphoError.hdf5(path: url.path, object: path, problem: "\(values.count) values for shape \(shape)")
        }
        try writeDataset(path, dims: dims, fileType: morpho_h5t_ieee_f32le(), memType: morpho_h5t_native_float(),
                         chunk: [1] + dims.dropFirst(), compression: compression) { write in
            try values.withUnsafeBytes { try write($0.baseAddress!) }
        }
    }

    /// Writes a Float64 vector.
    public func writeDoubles(_ path: String, _ values: [Double], compression: Int = 4) throws {
        try writeDataset(path, dims: [values.count], fileType: morpho_h5t_ieee_f64le(), memType: morpho_h5t_native_double(),
                         chunk: [min(max(values.count, 1), 65_536)], compression: compression) { write in
            try values.withUnsafeBytes { try write($0.baseAddress!) }
        }
    }

    /// Writes a vector of variable-length UTF-8 strings (h5py reads them as `str` with `.asstr()`).
    public func writeStrings(_ path: String, _ values: [String], compression: Int = 4) throws {
        let type = try stringType()
        defer { HDF5File.locked { _ = H5Tclose(type) } }
        // Keep C copies of every string alive while libhdf5 reads them.
        let cStrings = values.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        try writeDataset(path, dims: [values.count], fileType: type, memType: type,
                         chunk: [min(max(values.count, 1), 16_384)], compression: compression) { write in
            try cStrings.withUnsafeBytes { try write($0.baseAddress!) }
        }
    }

    /// Sets a string attribute on the group or dataset at `path` (replacing one of the same name).
    public func setAttribute(_ name: String, _ value: String, on path: String = "/") throws {
        let type = try stringType()
        defer { HDF5File.locked { _ = H5Tclose(type) } }
        var c: UnsafeMutablePointer<CChar>? = strdup(value)
        defer { free(c) }
        try writeAttribute(name, on: path, type: type, memType: type) { write in
            try withUnsafeBytes(of: &c) { try write($0.baseAddress!) }
        }
    }

    /// Sets a Float64 attribute.
    public func setAttribute(_ name: String, _ value: Double, on path: String = "/") throws {
        var v = value
        try writeAttribute(name, on: path, type: morpho_h5t_ieee_f64le(), memType: morpho_h5t_native_double()) { write in
            try withUnsafeBytes(of: &v) { try write($0.baseAddress!) }
        }
    }

    /// Creates an empty Float32 array of items of `itemShape` that grows along its first axis with
    /// `append` (chunks of `chunkItems` items, shuffle + deflate): the layout of single-cell crop stores.
    public func createExtendable(_ path: String, itemShape: [Int], chunkItems: Int = 64, compression: Int = 4) throws {
        try HDF5File.locked {
            guard file >= 0 else { throw MorphoError.hdf5(path: url.path, object: path, problem: "file is closed") }
            try ensureParents(path)
            var dims = [hsize_t(0)] + itemShape.map { hsize_t($0) }
            var maxDims = [morpho_h5s_unlimited()] + itemShape.map { hsize_t($0) }
            let space = H5Screate_simple(Int32(dims.count), &dims, &maxDims)
            defer { H5Sclose(space) }
            let dcpl = HDF5File.untimedCreationList(morpho_h5p_dataset_create())
            defer { H5Pclose(dcpl) }
            var chunk = [hsize_t(max(1, chunkItems))] + itemShape.map { hsize_t(max(1, $0)) }
            H5Pset_chunk(dcpl, Int32(chunk.count), &chunk)
            if compression > 0 { H5Pset_shuffle(dcpl); H5Pset_deflate(dcpl, UInt32(compression)) }
            let ds = H5Dcreate2(file, path, morpho_h5t_ieee_f32le(), space, morpho_h5p_default(), dcpl, morpho_h5p_default())
            guard ds >= 0 else { throw MorphoError.hdf5(path: url.path, object: path, problem: "cannot create dataset: \(HDF5File.lastError())") }
            H5Dclose(ds)
        }
    }

    /// Appends `values` (whole items, row-major) to an array made by `createExtendable`.
    public func append(_ path: String, _ values: [Float]) throws {
        try HDF5File.locked {
            try withDataset(path) { ds, dims in
                let itemSize = dims.dropFirst().reduce(1, *)
                guard itemSize > 0, values.count % itemSize == 0 else {
                    throw MorphoError.hdf5(path: url.path, object: path, problem: "\(values.count) values are not whole items of \(itemSize)")
                }
                let added = values.count / itemSize
                if added == 0 { return }
                var newDims = dims.map { hsize_t($0) }
                newDims[0] += hsize_t(added)
                guard H5Dset_extent(ds, &newDims) >= 0 else {
                    throw MorphoError.hdf5(path: url.path, object: path, problem: "cannot extend: \(HDF5File.lastError())")
                }
                let fileSpace = H5Dget_space(ds)
                defer { H5Sclose(fileSpace) }
                var start = [hsize_t(dims[0])] + dims.dropFirst().map { _ in hsize_t(0) }
                var count = [hsize_t(added)] + dims.dropFirst().map { hsize_t($0) }
                H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil)
                let memSpace = H5Screate_simple(Int32(count.count), &count, nil)
                defer { H5Sclose(memSpace) }
                let status = values.withUnsafeBytes { H5Dwrite(ds, morpho_h5t_native_float(), memSpace, fileSpace, morpho_h5p_default(), $0.baseAddress) }
                guard status >= 0 else { throw MorphoError.hdf5(path: url.path, object: path, problem: "cannot append: \(HDF5File.lastError())") }
            }
        }
    }

    /// Reads items `range` of an N-D Float32 array (first axis), with the full shape of the array.
    public func readItems(_ path: String, _ range: Range<Int>? = nil) throws -> (values: [Float], shape: [Int]) {
        try HDF5File.locked {
            try withDataset(path) { ds, dims in
                guard !dims.isEmpty else { throw MorphoError.hdf5(path: url.path, object: path, problem: "scalar dataset") }
                let r = range ?? 0..<dims[0]
                guard r.lowerBound >= 0, r.upperBound <= dims[0] else {
                    throw MorphoError.hdf5(path: url.path, object: path, problem: "items \(r) outside 0..<\(dims[0])")
                }
                try checkAllocation([r.count] + dims.dropFirst(), bytes: 4, object: path)
                let itemSize = dims.dropFirst().reduce(1, *)
                var out = [Float](repeating: 0, count: r.count * itemSize)
                if out.isEmpty { return (out, dims) }
                let fileSpace = H5Dget_space(ds)
                defer { H5Sclose(fileSpace) }
                var start = [hsize_t(r.lowerBound)] + dims.dropFirst().map { _ in hsize_t(0) }
                var count = [hsize_t(r.count)] + dims.dropFirst().map { hsize_t($0) }
                H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil)
                let memSpace = H5Screate_simple(Int32(count.count), &count, nil)
                defer { H5Sclose(memSpace) }
                let status = out.withUnsafeMutableBytes { H5Dread(ds, morpho_h5t_native_float(), memSpace, fileSpace, morpho_h5p_default(), $0.baseAddress) }
                guard status >= 0 else { throw MorphoError.hdf5(path: url.path, object: path, problem: "cannot read: \(HDF5File.lastError())") }
                return (out, dims)
            }
        }
    }

    // MARK: - reading

    /// True when a group or dataset exists at `path`.
    public func exists(_ path: String) -> Bool {
        HDF5File.locked {
            var prefix = ""
            for part in path.split(separator: "/") {
                prefix += "/" + part
                if H5Lexists(file, prefix, morpho_h5p_default()) <= 0 { return false }
            }
            return true
        }
    }

    /// Names of the members of the group at `path`, sorted.
    public func members(of path: String) throws -> [String] {
        try HDF5File.locked {
            let g = H5Gopen2(file, path, morpho_h5p_default())
            guard g >= 0 else { throw MorphoError.hdf5(path: url.path, object: path, problem: "no such group") }
            defer { H5Gclose(g) }
            var info = H5G_info_t()
            H5Gget_info(g, &info)
            var names = [String]()
            for i in 0..<info.nlinks {
                let n = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, morpho_h5p_default())
                guard n >= 0 else { continue }
                var buf = [CChar](repeating: 0, count: Int(n) + 1)
                H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, Int(n) + 1, morpho_h5p_default())
                names.append(String(decoding: buf.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            return names
        }
    }

    /// Reads a 2-D numeric dataset as a row-major Float32 matrix.
    public func readMatrix(_ path: String) throws -> (values: [Float], rows: Int, cols: Int) {
        try HDF5File.locked {
            try withDataset(path) { ds, dims in
                guard dims.count == 2 else { throw MorphoError.hdf5(path: url.path, object: path, problem: "expected a 2-D matrix, found rank \(dims.count)") }
                try checkAllocation(dims, bytes: 4, object: path)
                var out = [Float](repeating: 0, count: dims[0] * dims[1])
                if !out.isEmpty {
                    let status = out.withUnsafeMutableBytes { H5Dread(ds, morpho_h5t_native_float(), morpho_h5s_all(), morpho_h5s_all(), morpho_h5p_default(), $0.baseAddress) }
                    guard status >= 0 else { throw MorphoError.hdf5(path: url.path, object: path, problem: "cannot read: \(HDF5File.lastError())") }
                }
                return (out, dims[0], dims[1])
            }
        }
    }

    /// Reads a 1-D numeric dataset as Float64.
    public func readDoubles(_ path: String) throws -> [Double] {
        try HDF5File.locked {
            try withDataset(path) { ds, dims in
                guard dims.count == 1 else { throw MorphoError.hdf5(path: url.path, object: path, problem: "expected a vector, found rank \(dims.count)") }
                try checkAllocation(dims, bytes: 8, object: path)
                var out = [Double](repeating: 0, count: dims[0])
                if !out.isEmpty {
                    let status = out.withUnsafeMutableBytes { H5Dread(ds, morpho_h5t_native_double(), morpho_h5s_all(), morpho_h5s_all(), morpho_h5p_default(), $0.baseAddress) }
                    guard status >= 0 else { throw MorphoError.hdf5(path: url.path, object: path, problem: "cannot read: \(HDF5File.lastError())") }
                }
                return out
            }
        }
    }

    /// Whether the dataset at `path` holds strings.
    public func isStringDataset(_ path: String) throws -> Bool {
        try HDF5File.locked {
            try withDataset(path) { ds, _ in
                let fileType = H5Dget_type(ds)
                defer { H5Tclose(fileType) }
                return H5Tget_class(fileType) == H5T_STRING
            }
        }
    }

    /// Reads a 1-D string dataset (variable- or fixed-length).
    public func readStrings(_ path: String) throws -> [String] {
        try HDF5File.locked {
            try withDataset(path) { ds, dims in
                guard dims.count == 1 else { throw MorphoError.hdf5(path: url.path, object: path, problem: "expected a vector, found rank \(dims.count)") }
                let fileType = H5Dget_type(ds)
                defer { H5Tclose(fileType) }
                guard H5Tget_class(fileType) == H5T_STRING else {
                    throw MorphoError.hdf5(path: url.path, object: path, problem: "not a string dataset")
                }
                return try readStringData(count: dims[0], fileType: fileType, object: path) { mem, buf in
                    H5Dread(ds, mem, morpho_h5s_all(), morpho_h5s_all(), morpho_h5p_default(), buf)
                }
            }
        }
    }

    /// Reads a string attribute; nil when absent.
    public func stringAttribute(_ name: String, on path: String = "/") throws -> String? {
        try withAttribute(name, on: path) { a in
            let fileType = H5Aget_type(a)
            defer { H5Tclose(fileType) }
            guard H5Tget_class(fileType) == H5T_STRING else {
                throw MorphoError.hdf5(path: url.path, object: "\(path)@\(name)", problem: "attribute is not a string")
            }
            return try readStringData(count: 1, fileType: fileType, object: "\(path)@\(name)") { mem, buf in
                H5Aread(a, mem, buf)
            }.first
        } ?? nil
    }

    /// Names of the attributes on the object at `path`, in creation-index or name order.
    public func attributeNames(on path: String = "/") throws -> [String] {
        try HDF5File.locked {
            final class Box { var names = [String]() }
            let box = Box()
            let status = H5Aiterate_by_name(file, path, H5_INDEX_NAME, H5_ITER_INC, nil, { _, name, _, data in
                Unmanaged<Box>.fromOpaque(data!).takeUnretainedValue().names.append(String(cString: name!))
                return 0
            }, Unmanaged.passUnretained(box).toOpaque(), morpho_h5p_default())
            guard status >= 0 else { throw MorphoError.hdf5(path: url.path, object: path, problem: "cannot list attributes: \(HDF5File.lastError())") }
            return box.names
        }
    }

    /// Reads a numeric scalar attribute; nil when absent.
    public func numberAttribute(_ name: String, on path: String = "/") throws -> Double? {
        try withAttribute(name, on: path) { a in
            var v = 0.0
            guard H5Aread(a, morpho_h5t_native_double(), &v) >= 0 else {
                throw MorphoError.hdf5(path: url.path, object: "\(path)@\(name)", problem: "attribute is not a number")
            }
            return v
        }
    }

    /// Opens attribute `name` of the object at `path` for `body`; nil when there is no such attribute.
    private func withAttribute<T>(_ name: String, on path: String, _ body: (hid_t) throws -> T) throws -> T? {
        try HDF5File.locked {
            guard H5Aexists_by_name(file, path, name, morpho_h5p_default()) > 0 else { return nil }
            let a = H5Aopen_by_name(file, path, name, morpho_h5p_default(), morpho_h5p_default())
            guard a >= 0 else { throw MorphoError.hdf5(path: url.path, object: "\(path)@\(name)", problem: "cannot open attribute") }
            defer { H5Aclose(a) }
            return try body(a)
        }
    }

    // MARK: - internals

    @discardableResult
    static func locked<T>(_ body: () throws -> T) rethrows -> T {
        hdf5Lock.lock(); defer { hdf5Lock.unlock() }
        morpho_h5_silence_errors()
        return try body()
    }

    /// The innermost message of the current HDF5 error stack.
    static func lastError() -> String {
        final class Box { var text = "" }
        let box = Box()
        let unmanaged = Unmanaged.passUnretained(box)
        H5Ewalk2(hid_t(H5E_DEFAULT), H5E_WALK_DOWNWARD, { _, desc, data in
            let box = Unmanaged<Box>.fromOpaque(data!).takeUnretainedValue()
            if box.text.isEmpty, let d = desc?.pointee.desc { box.text = String(cString: d) }
            return 0
        }, unmanaged.toOpaque())
        return box.text.isEmpty ? "unknown error" : box.text
    }

    private func stringType() throws -> hid_t {
        try HDF5File.locked {
            let t = H5Tcopy(morpho_h5t_c_s1())
            guard t >= 0, H5Tset_size(t, morpho_h5t_variable()) >= 0, H5Tset_cset(t, H5T_CSET_UTF8) >= 0 else {
                throw MorphoError.hdf5(path: url.path, object: "/", problem: "cannot make string type")
            }
            return t
        }
    }

    /// A creation property list whose objects record no modification times (HDF5 stamps every object
    /// header by default), so the same content gives the same file bytes.
    private static func untimedCreationList(_ cls: hid_t) -> hid_t {
        let list = H5Pcreate(cls)
        H5Pset_obj_track_times(list, false)
        return list
    }

    /// Opens (creating as needed) every group on the way to `path`'s parent; returns the leaf name.
    private func ensureParents(_ path: String) throws {
        let parts = path.split(separator: "/")
        var prefix = ""
        for part in parts.dropLast() {
            prefix += "/" + part
            if H5Lexists(file, prefix, morpho_h5p_default()) <= 0 {
                let gcpl = HDF5File.untimedCreationList(morpho_h5p_group_create())
                defer { H5Pclose(gcpl) }
                let g = H5Gcreate2(file, prefix, morpho_h5p_default(), gcpl, morpho_h5p_default())
                guard g >= 0 else { throw MorphoError.hdf5(path: url.path, object: prefix, problem: "cannot create group: \(HDF5File.lastError())") }
                H5Gclose(g)
            }
        }
    }

    private func writeDataset(_ path: String, dims: [Int], fileType: hid_t, memType: hid_t, chunk: [Int],
                              compression: Int, data: ((UnsafeRawPointer) throws -> Void) throws -> Void) throws {
        try HDF5File.locked {
            guard file >= 0 else { throw MorphoError.hdf5(path: url.path, object: path, problem: "file is closed") }
            try ensureParents(path)
            if H5Lexists(file, path, morpho_h5p_default()) > 0 {
                H5Ldelete(file, path, morpho_h5p_default())
            }
            var hdims = dims.map { hsize_t($0) }
            let space = H5Screate_simple(Int32(dims.count), &hdims, nil)
            guard space >= 0 else { throw MorphoError.hdf5(path: url.path, object: path, problem: "cannot make dataspace") }
            defer { H5Sclose(space) }
            let dcpl = HDF5File.untimedCreationList(morpho_h5p_dataset_create())
            defer { H5Pclose(dcpl) }
            if !dims.contains(0) {  // chunked layout needs non-empty dimensions
                var hchunk = chunk.map { hsize_t($0) }
                H5Pset_chunk(dcpl, Int32(chunk.count), &hchunk)
                if compression > 0 {
                    H5Pset_shuffle(dcpl)
                    H5Pset_deflate(dcpl, UInt32(compression))
                }
            }
            let ds = H5Dcreate2(file, path, fileType, space, morpho_h5p_default(), dcpl, morpho_h5p_default())
            guard ds >= 0 else { throw MorphoError.hdf5(path: url.path, object: path, problem: "cannot create dataset: \(HDF5File.lastError())") }
            defer { H5Dclose(ds) }
            if dims.contains(0) { return }
            try data { buffer in
                guard H5Dwrite(ds, memType, morpho_h5s_all(), morpho_h5s_all(), morpho_h5p_default(), buffer) >= 0 else {
                    throw MorphoError.hdf5(path: url.path, object: path, problem: "cannot write: \(HDF5File.lastError())")
                }
            }
        }
    }

    private func writeAttribute(_ name: String, on path: String, type: hid_t, memType: hid_t,
                                data: ((UnsafeRawPointer) throws -> Void) throws -> Void) throws {
        try HDF5File.locked {
            guard H5Lexists(file, path, morpho_h5p_default()) > 0 || path == "/" else {
                throw MorphoError.hdf5(path: url.path, object: path, problem: "no such object for attribute '\(name)'")
            }
            if H5Aexists_by_name(file, path, name, morpho_h5p_default()) > 0 {
                H5Adelete_by_name(file, path, name, morpho_h5p_default())
            }
            let space = H5Screate(H5S_SCALAR)
            defer { H5Sclose(space) }
            let a = H5Acreate_by_name(file, path, name, type, space, morpho_h5p_default(), morpho_h5p_default(), morpho_h5p_default())
            guard a >= 0 else { throw MorphoError.hdf5(path: url.path, object: "\(path)@\(name)", problem: "cannot create attribute: \(HDF5File.lastError())") }
            defer { H5Aclose(a) }
            try data { buffer in
                guard H5Awrite(a, memType, buffer) >= 0 else {
                    throw MorphoError.hdf5(path: url.path, object: "\(path)@\(name)", problem: "cannot write attribute: \(HDF5File.lastError())")
                }
            }
        }
    }

    private func withDataset<T>(_ path: String, _ body: (hid_t, [Int]) throws -> T) throws -> T {
        guard file >= 0 else { throw MorphoError.hdf5(path: url.path, object: path, problem: "file is closed") }
        guard exists(path) else { throw MorphoError.hdf5(path: url.path, object: path, problem: "no such dataset") }
        let ds = H5Dopen2(file, path, morpho_h5p_default())
        guard ds >= 0 else { throw MorphoError.hdf5(path: url.path, object: path, problem: "not a dataset") }
        defer { H5Dclose(ds) }
        let space = H5Dget_space(ds)
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        var dims = [hsize_t](repeating: 0, count: max(rank, 1))
        H5Sget_simple_extent_dims(space, &dims, nil)
        return try body(ds, dims.prefix(rank).map { Int($0) })
    }

    /// Sizes come from the file: a read of a dataset declared far larger than it stores (unwritten
    /// chunks read as fill values) must not become an allocation of that size. Checks the product of
    /// `counts` x `bytes` against the memory budget (`MemoryBudget.bytes`) before allocating.
    private func checkAllocation(_ counts: [Int], bytes: Int, object: String) throws {
        var total = bytes, overflow = false
        for c in counts {
            let (product, o) = total.multipliedReportingOverflow(by: max(c, 0))
            total = product; overflow = overflow || o
        }
        if overflow || total > MemoryBudget.bytes {
            throw MorphoError.hdf5(path: url.path, object: object, problem: "reading \(counts.map(String.init).joined(separator: " x ")) values would take \(overflow ? "more than 2^63" : "\(total >> 20) MiB of") memory, over the budget of \(MemoryBudget.bytes >> 20) MiB (set MORPHO_MAX_IMAGE_BYTES to raise it)")
        }
    }

    /// Reads `count` strings of `fileType` (variable or fixed length) through `read(memType, buffer)`.
    private func readStringData(count: Int, fileType: hid_t, object: String,
                                read: (hid_t, UnsafeMutableRawPointer) -> herr_t) throws -> [String] {
        if count == 0 { return [] }
        try checkAllocation([count], bytes: MemoryLayout<UnsafeMutablePointer<CChar>?>.size, object: object)
        if H5Tis_variable_str(fileType) > 0 {
            let mem = try stringType()
            defer { H5Tclose(mem) }
            var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            let status = ptrs.withUnsafeMutableBytes { read(mem, $0.baseAddress!) }
            guard status >= 0 else { throw MorphoError.hdf5(path: url.path, object: object, problem: "cannot read strings: \(HDF5File.lastError())") }
            let out = ptrs.map { $0.map { String(cString: $0) } ?? "" }
            for p in ptrs { free(p) }
            return out
        }
        let size = H5Tget_size(fileType)
        try checkAllocation([count], bytes: size, object: object)
        let mem = H5Tcopy(fileType)
        defer { H5Tclose(mem) }
        var buf = [UInt8](repeating: 0, count: count * size)
        let status = buf.withUnsafeMutableBytes { read(mem, $0.baseAddress!) }
        guard status >= 0 else { throw MorphoError.hdf5(path: url.path, object: object, problem: "cannot read strings: \(HDF5File.lastError())") }
        return (0..<count).map { i in
            let slice = buf[(i * size)..<((i + 1) * size)]
            return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
