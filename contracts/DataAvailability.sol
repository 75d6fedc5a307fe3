// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Bls12381, PrecompileFailed} from "./Bls12381.sol";

/// @title DataAvailability
/// @notice Levity's DA committee and its certificates. Nodes register with a stake and a BLS
///         key (min-pk: pk in G1) proven by a proof of possession; a certificate says that a
///         quorum of the current committee stores and has verified every cell of a data root,
///         and carries the committee's aggregate BLS signature over that root.
/// @dev The epoch is the number of registrations: each registration starts a new epoch, so the
///      committee (every node in registration order) is fixed within one. Quorum: 3 × signed
///      stake ≥ 2 × total stake, and no cyclic run of R = min(replication, n) consecutive
///      non-signers (every cell's R custodians are consecutive nodes, so some custodian signed).
///      Messages and the data root are defined in src/protocol/da/certificate.ts.
contract DataAvailability {
    struct Certificate {
        uint64 epoch;
        uint64 payloadSize;
        uint32 blobCount;
        bytes32 commitmentsHash;
        /// Bit i set: node i signed.
        uint256 signers;
        /// The aggregate signature, 256-byte EIP-2537 G2.
        bytes signature;
    }

    /// What is kept per certified root: two fresh slots. `meta` packs signers (bits 0..63),
    /// epoch (64..71), blobCount (72..103), payloadSize (104..167) and the certifying block
    /// (168..231), which is never 0 and so also marks the root as certified. Signers and epoch
    /// fit because the committee has at most 64 nodes.
    struct Record {
        uint256 meta;
        bytes32 commitmentsHash;
    }

    /// Bounds the signer bitmap to 64 bits and the epoch to 8, so that a certificate's record
    /// takes two storage slots instead of three (22,100 gas less per certificate).
    uint256 private constant MAX_NODES = 64;
    /// A snapshot record: the 128-byte EIP-2537 public key, then the 32-byte stake.
    uint256 private constant RECORD_BYTES = 160;

    bytes32 private constant DATA_ROOT_DOMAIN = keccak256("levity.da.data-root.v1");
    bytes32 private constant ATTEST_DOMAIN = keccak256("levity.da.attest.v1");
    bytes32 private constant POP_DOMAIN = keccak256("levity.da.pop.v1");

    uint256 public immutable minStake;
    /// @notice The configured replication; the effective one is min(replication, node count).
    uint8 public immutable replication;

    // One slot, read by every certificate. The snapshot is a code-only contract holding
    // 0x00 ‖ totalStake ‖ n records: reading it costs one cold EXTCODECOPY instead of five cold
    // SLOADs per signer, and a new one is written per registration (= per epoch).
    uint64 private _epoch;
    address private _snapshot;

    address[] private _nodes;
    string[] private _urls;
    mapping(address node => bool) private _registered;
    mapping(bytes32 dataRoot => Record) private _certificates;

    event NodeRegistered(address indexed node, uint256 index, string url, uint256 stake, bytes publicKey, uint64 epoch);
    event DataCertified(bytes32 indexed dataRoot, uint64 epoch, uint64 payloadSize, uint32 blobCount, uint256 signers);

    error AlreadyRegistered(address node);
    error StakeTooLow(uint256 sent, uint256 min);
    error InvalidPublicKey();
    error InvalidProofOfPossession();
    error CommitteeFull(uint256 max);
    error InvalidReplication();
    error WrongEpoch(uint64 expected, uint64 got);
    error AlreadyCertified(bytes32 dataRoot);
    error UnknownSigner(uint256 index);
    error NoSigners();
    error InsufficientStake(uint256 signed, uint256 total);
    error CellsNotCovered();
    error InvalidSignature();

    constructor(uint256 minStake_, uint8 replication_) {
        if (replication_ == 0) revert InvalidReplication();
        minStake = minStake_;
        replication = replication_;
    }

    // ---------------------------------------------------------------- committee

    /// @notice Joins the committee with msg.value as stake (kept by the contract) and starts a
    ///         new epoch. `popSignature` signs popMessage(chain, this contract, caller, keccak256(publicKey)).
    /// @param publicKey 128-byte EIP-2537 G1 point, not infinity.
    /// @param popSignature 256-byte EIP-2537 G2 point.
    function register(string calldata url, bytes calldata publicKey, bytes calldata popSignature) external payable {
        if (msg.value < minStake) revert StakeTooLow(msg.value, minStake);
        if (_registered[msg.sender]) revert AlreadyRegistered(msg.sender);
        uint256 index = _epoch;
        if (index >= MAX_NODES) revert CommitteeFull(MAX_NODES);
        if (!Bls12381.isG1Point(publicKey)) revert InvalidPublicKey();
        if (!_possesses(publicKey, popSignature)) revert InvalidProofOfPossession();

        uint64 newEpoch = uint64(index + 1);
        _snapshot = _writeSnapshot(_snapshot, index, publicKey, msg.value);
        _epoch = newEpoch;
        _registered[msg.sender] = true;
        _nodes.push(msg.sender);
        _urls.push(url);
        emit NodeRegistered(msg.sender, index, url, msg.value, publicKey, newEpoch);
    }

    function epoch() external view returns (uint64) {
        return _epoch;
    }

    /// @notice The current committee, index i = the i-th registration.
    /// @return epoch_ The current epoch (= the node count).
    /// @return replication_ The effective replication, min(replication, node count).
    function committee()
        external
        view
        returns (
            uint64 epoch_,
            uint8 replication_,
            address[] memory nodes,
            string[] memory urls,
            uint256[] memory stakes,
            bytes[] memory publicKeys
        )
    {
        uint256 n = _epoch;
        epoch_ = uint64(n);
        replication_ = uint8(_effectiveReplication(n));
        nodes = _nodes;
        urls = _urls;
        stakes = new uint256[](n);
        publicKeys = new bytes[](n);
        address snapshot = _snapshot;
        for (uint256 i = 0; i < n; i++) {
            bytes memory key = new bytes(Bls12381.G1_BYTES);
            uint256 stake;
            assembly ("memory-safe") {
                let at := add(33, mul(i, RECORD_BYTES))
                extcodecopy(snapshot, add(key, 0x20), at, 0x80)
                extcodecopy(snapshot, 0x00, add(at, 0x80), 0x20)
                stake := mload(0x00)
            }
            publicKeys[i] = key;
            stakes[i] = stake;
        }
    }

    // ---------------------------------------------------------------- certificates

    /// @notice Verifies and records a certificate; anyone may submit, the signature is what counts.
    /// @return dataRoot keccak256(abi.encode(DATA_ROOT_DOMAIN, epoch, payloadSize, blobCount, commitmentsHash)).
    function submitCertificate(Certificate calldata cert) external returns (bytes32 dataRoot) {
        uint64 current = _epoch;
        if (cert.epoch != current) revert WrongEpoch(current, cert.epoch);
        dataRoot = keccak256(abi.encode(DATA_ROOT_DOMAIN, cert.epoch, cert.payloadSize, cert.blobCount, cert.commitmentsHash));
        Record storage record = _certificates[dataRoot];
        if (record.meta != 0) revert AlreadyCertified(dataRoot);

        _verify(cert, dataRoot, current);

        // _verify bounded signers below 2^n and the epoch equals n, with n <= MAX_NODES = 64.
        record.meta =
            cert.signers |
            (uint256(cert.epoch) << 64) |
            (uint256(cert.blobCount) << 72) |
            (uint256(cert.payloadSize) << 104) |
            (block.number << 168);
        record.commitmentsHash = cert.commitmentsHash;
        emit DataCertified(dataRoot, cert.epoch, cert.payloadSize, cert.blobCount, cert.signers);
    }

    function commitmentExists(bytes32 dataRoot) external view returns (bool) {
        return _certificates[dataRoot].meta != 0;
    }

    /// @notice The recorded certificate of `dataRoot`; all zero when it was never certified.
    function certificateOf(
        bytes32 dataRoot
    )
        external
        view
        returns (
            uint64 epoch_,
            uint64 payloadSize,
            uint32 blobCount,
            bytes32 commitmentsHash,
            uint256 signers,
            uint64 blockNumber
        )
    {
        Record storage record = _certificates[dataRoot];
        uint256 meta = record.meta;
        return (
            uint64(uint8(meta >> 64)),
            uint64(meta >> 104),
            uint32(meta >> 72),
            record.commitmentsHash,
            uint64(meta),
            uint64(meta >> 168)
        );
    }

    // ---------------------------------------------------------------- internals

    /// Reverts unless the signers form a quorum of the n-node committee and their aggregate
    /// key verifies the signature over the attestation message of `dataRoot`.
    function _verify(Certificate calldata cert, bytes32 dataRoot, uint256 n) private view {
        uint256 signers = cert.signers;
        if (signers == 0) revert NoSigners();
        if (signers >> n != 0) revert UnknownSigner(_lowestBit(signers >> n) + n);

        // Pairing input, laid out once: apk(128) ‖ H(m)(256) ‖ -g1(128) ‖ σ(256).
        uint256 input = _allocate(2 * Bls12381.PAIR_BYTES);
        (uint256 signedStake, uint256 totalStake) = _aggregateSigners(signers, n, input);
        if (3 * signedStake < 2 * totalStake) revert InsufficientStake(signedStake, totalStake);
        if (!_covered(signers, n, _effectiveReplication(n))) revert CellsNotCovered();

        bytes calldata signature = cert.signature;
        if (signature.length != Bls12381.G2_BYTES) revert InvalidSignature();
        uint256 sigAt = input + 2 * Bls12381.PAIR_BYTES - Bls12381.G2_BYTES;
        assembly ("memory-safe") {
            calldatacopy(sigAt, signature.offset, 0x100)
        }
        // e(apk, H) · e(-g1, O) = 1 whenever apk is in G1: an infinity σ must never reach the pairing.
        if (Bls12381.isZero(sigAt, Bls12381.G2_BYTES)) revert InvalidSignature();
        bytes32 message = keccak256(abi.encode(ATTEST_DOMAIN, block.chainid, address(this), dataRoot));
        Bls12381.hashToG2(message, input + Bls12381.G1_BYTES);
        if (!Bls12381.pairingHolds(input)) revert InvalidSignature();
    }

    function _effectiveReplication(uint256 n) private view returns (uint256) {
        return replication < n ? replication : n;
    }

    /// Sums the signers' stakes and writes their aggregate public key (G1ADD) at `out`.
    function _aggregateSigners(
        uint256 signers,
        uint256 n,
        uint256 out
    ) private view returns (uint256 signedStake, uint256 totalStake) {
        address snapshot = _snapshot;
        uint256 snap = _allocate(32 + n * RECORD_BYTES);
        bool ok = true;
        assembly ("memory-safe") {
            extcodecopy(snapshot, snap, 1, add(32, mul(n, RECORD_BYTES)))
            totalStake := mload(snap)
            let records := add(snap, 0x20)
            let first := 1
            // G1ADD reads acc ‖ pk: the pk is copied into the 128 bytes after the accumulator,
            // which H(m) overwrites later.
            let pkSlot := add(out, 0x80)
            for { let i := 0 } signers { i := add(i, 1) } {
                if and(signers, 1) {
                    let rec := add(records, mul(i, RECORD_BYTES))
                    signedStake := add(signedStake, mload(add(rec, 0x80)))
                    switch first
                    case 1 {
                        mcopy(out, rec, 0x80)
                        first := 0
                    }
                    default {
                        mcopy(pkSlot, rec, 0x80)
                        ok := and(ok, staticcall(gas(), 0x0b /* G1ADD */, out, 0x100, out, 0x80))
                    }
                }
                signers := shr(1, signers)
            }
        }
        if (!ok) revert PrecompileFailed(address(uint160(Bls12381.G1ADD)));
    }

    /// Whether every cyclic window of `r` consecutive nodes holds a signer: bit i of `run` ends
    /// up set iff nodes i..i+r-1 (mod n) all did not sign.
    function _covered(uint256 signers, uint256 n, uint256 r) private pure returns (bool) {
        uint256 mask = (uint256(1) << n) - 1;
        uint256 absent = ~signers & mask;
        uint256 run = absent;
        for (uint256 j = 1; j < r && run != 0; j++) {
            run &= ((absent >> j) | (absent << (n - j))) & mask;
        }
        return run == 0;
    }

    function _possesses(bytes calldata publicKey, bytes calldata popSignature) private view returns (bool) {
        if (popSignature.length != Bls12381.G2_BYTES) return false;
        bytes32 message = keccak256(abi.encode(POP_DOMAIN, block.chainid, address(this), msg.sender, keccak256(publicKey)));
        uint256 input = _allocate(2 * Bls12381.PAIR_BYTES);
        uint256 sigAt = input + 2 * Bls12381.PAIR_BYTES - Bls12381.G2_BYTES;
        assembly ("memory-safe") {
            calldatacopy(input, publicKey.offset, 0x80)
            calldatacopy(sigAt, popSignature.offset, 0x100)
        }
        if (Bls12381.isZero(sigAt, Bls12381.G2_BYTES)) return false;
        Bls12381.hashToG2(message, input + Bls12381.G1_BYTES);
        return Bls12381.pairingHolds(input);
    }

    /// Deploys the next snapshot: the previous records plus (publicKey, stake).
    function _writeSnapshot(
        address previous,
        uint256 n,
        bytes calldata publicKey,
        uint256 stake
    ) private returns (address snapshot) {
        uint256 runtimeLength = 33 + (n + 1) * RECORD_BYTES;
        uint256 init = _allocate(10 + runtimeLength);
        assembly ("memory-safe") {
            // Loader (10 bytes): PUSH2 len, DUP1, PUSH1 10, RETURNDATASIZE, CODECOPY,
            // RETURNDATASIZE, RETURN; then the runtime, whose first byte 0x00 (STOP) makes the
            // snapshot uncallable.
            mstore(init, shl(168, or(0x61000080600a3d393df300, shl(64, runtimeLength))))
            let total := stake
            if n {
                extcodecopy(previous, 0x00, 1, 0x20)
                total := add(total, mload(0x00))
                extcodecopy(previous, add(init, 43), 33, mul(n, RECORD_BYTES))
            }
            mstore(add(init, 11), total)
            let rec := add(add(init, 43), mul(n, RECORD_BYTES))
            calldatacopy(rec, publicKey.offset, 0x80)
            mstore(add(rec, 0x80), stake)
            snapshot := create(0, init, add(10, runtimeLength))
        }
        // Only running out of gas fails here: MAX_NODES keeps the code under the size limit.
        if (snapshot == address(0)) revert();
    }

    function _allocate(uint256 length) private pure returns (uint256 ptr) {
        assembly ("memory-safe") {
            ptr := mload(0x40)
            mstore(0x40, add(ptr, and(add(length, 31), not(31))))
        }
    }

    function _lowestBit(uint256 x) private pure returns (uint256 i) {
        while (x & 1 == 0) {
            x >>= 1;
            i++;
        }
    }
}
