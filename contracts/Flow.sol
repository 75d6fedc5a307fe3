// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IMarket} from "./Market.sol";
import {Submission, SubmissionData, SubmissionLib} from "./Submission.sol";

/// @title Flow
/// @notice The append-only log of file submissions that Levity's storage nodes follow, ABI
///         compatible with 0G's Flow for the calls and event the 0G SDKs use (spec storage.md
///         §3.5): both the current `submit(Submission)` and the 0.3.3 `submit(SubmissionData)`,
///         their batch forms, `market()`, and the `Submit` event.
/// @dev Unlike 0G's Flow this keeps no on-chain Merkle tree of the flow and runs no mining
///      epochs: storage nodes rebuild the tree from `Submit` events. What it does keep is 0G's
///      placement (where each file lands in the flow), because nodes and SDKs derive segment
///      indices from `startPos`.
contract Flow {
    /// 256-byte sectors per 256 KiB segment.
    uint256 private constant SEGMENT_SECTORS = 1024;
    uint256 private constant SEGMENT_HEIGHT = 10;

    /// @notice The market that prices sectors and receives the fees.
    address public immutable market;

    /// What a storage node needs to find a submission again without replaying events: two
    /// storage slots. The widths are provable bounds, not guesses: heights are < 64 with at most
    /// four nodes, so sectors < 2^64 and byteLength <= sectors*256 < 2^72; the flow itself is
    /// capped at 2^80 sectors (FlowFull); block numbers reach 2^40 after ~35,000 years of 1 s
    /// blocks.
    struct Record {
        bytes32 digest;
        uint80 startPos;
        uint64 sectors;
        uint72 byteLength;
        uint40 blockNumber;
    }

    // Packed into one slot: every submit reads and writes both.
    uint64 private _numSubmissions;
    uint80 private _currentLength;
    mapping(uint256 index => Record) private _records;

    error ZeroMarket();
    error NotEnoughFee(uint256 price, uint256 sectors, uint256 paid);
    error RefundFailed(address to, uint256 amount);
    error FlowFull(uint256 length);
    error UnknownSubmission(uint256 index);

    /// @notice Signature and field order are 0G's; SDKs and nodes match the topic
    ///         0x167ce04d…7675555. `sender` is the caller (the submitter is not logged);
    ///         `length` is in sectors (Σ2^height), `submissionIndex` is the 0-based txSeq.
    event Submit(
        address indexed sender,
        bytes32 indexed identity,
        uint256 submissionIndex,
        uint256 startPos,
        uint256 length,
        SubmissionData submission
    );

    constructor(address market_) {
        if (market_ == address(0)) revert ZeroMarket();
        market = market_;
        // Sector 0 is never handed out, as in 0G, so the first file starts at its own
        // alignment (a one-sector file at 1, a full segment at 1024).
        _currentLength = 1;
    }

    // ---------------------------------------------------------------- submitting

    /// @notice Appends one file (SDK 1.2.8 ABI). msg.value must cover
    ///         Σ2^height × market.pricePerSector(); any excess is refunded to the caller.
    /// @return index The submission's txSeq.
    /// @return digest Its identity.
    /// @return startIndex Its first sector in the flow.
    /// @return length Its sectors.
    function submit(
        Submission calldata submission
    ) external payable returns (uint256 index, bytes32 digest, uint256 startIndex, uint256 length) {
        (index, digest, startIndex, length) = _append(submission.data, submission.submitter);
        _settle(length);
    }

    /// @notice The 0.3.3 ABI: no submitter field, so the caller is the submitter.
    function submit(
        SubmissionData calldata data
    ) external payable returns (uint256 index, bytes32 digest, uint256 startIndex, uint256 length) {
        (index, digest, startIndex, length) = _append(data, msg.sender);
        _settle(length);
    }

    /// @notice Appends several files in order, paying for all of them with one msg.value.
    function batchSubmit(
        Submission[] calldata submissions
    )
        external
        payable
        returns (uint256[] memory indexes, bytes32[] memory digests, uint256[] memory startIndexes, uint256[] memory lengths)
    {
        uint256 count = submissions.length;
        (indexes, digests, startIndexes, lengths) = _newResults(count);
        uint256 sectors;
        for (uint256 i = 0; i < count; i++) {
            (indexes[i], digests[i], startIndexes[i], lengths[i]) = _append(submissions[i].data, submissions[i].submitter);
            sectors += lengths[i];
        }
        _settle(sectors);
    }

    /// @notice The 0.3.3 batch ABI; the caller is every item's submitter.
    function batchSubmit(
        SubmissionData[] calldata submissions
    )
        external
        payable
        returns (uint256[] memory indexes, bytes32[] memory digests, uint256[] memory startIndexes, uint256[] memory lengths)
    {
        uint256 count = submissions.length;
        (indexes, digests, startIndexes, lengths) = _newResults(count);
        uint256 sectors;
        for (uint256 i = 0; i < count; i++) {
            (indexes[i], digests[i], startIndexes[i], lengths[i]) = _append(submissions[i], msg.sender);
            sectors += lengths[i];
        }
        _settle(sectors);
    }

    // ---------------------------------------------------------------- views

    function numSubmissions() external view returns (uint256) {
        return _numSubmissions;
    }

    /// @notice The flow's length in sectors: the next file is placed at or after it.
    function currentLength() external view returns (uint256) {
        return _currentLength;
    }

    /// @return digest keccak256 of the node roots.
    /// @return startPos First sector in the flow.
    /// @return length Sectors (Σ2^height).
    /// @return byteLength The file's size in bytes.
    /// @return blockNumber The block that appended it.
    function submissionAt(
        uint256 index
    ) external view returns (bytes32 digest, uint256 startPos, uint256 length, uint256 byteLength, uint64 blockNumber) {
        if (index >= _numSubmissions) revert UnknownSubmission(index);
        Record storage r = _records[index];
        return (r.digest, r.startPos, r.sectors, r.byteLength, r.blockNumber);
    }

    // ---------------------------------------------------------------- internals

    /// Validates, places and records one submission and emits its Submit. Takes no payment:
    /// callers settle once per transaction, after every state change (checks-effects-interactions).
    function _append(
        SubmissionData calldata data,
        address submitter
    ) private returns (uint256 index, bytes32 digest, uint256 startPos, uint256 sectors) {
        sectors = SubmissionLib.validate(data, submitter);
        digest = SubmissionLib.digest(data);

        uint256 end;
        (startPos, end) = _place(_currentLength, data.nodes[0].height, sectors);
        if (end > type(uint80).max) revert FlowFull(end);

        index = _numSubmissions;
        _numSubmissions = uint64(index + 1);
        _currentLength = uint80(end);
        _records[index] = Record({
            digest: digest,
            startPos: uint80(startPos),
            sectors: uint64(sectors),
            byteLength: uint72(data.length),
            blockNumber: uint40(block.number)
        });
        emit Submit(msg.sender, digest, index, startPos, sectors, data);
    }

    /// Where a file of `sectors` sectors whose first node has height `firstHeight` lands, given
    /// the flow's current length (0G's FlowTreeLib placement, spec §4.8).
    ///
    /// The spec places node i at nextAlign(cursor, h_i). With strictly decreasing heights that is
    /// always the cursor itself: `start` is a multiple of 2^h_0, and after nodes 0..i the cursor
    /// is start + Σ2^h_k, a multiple of every later, smaller 2^h. So the nodes sit back to back
    /// and only the first alignment (and the segment jump) can leave a gap.
    function _place(uint256 current, uint256 firstHeight, uint256 sectors) private pure returns (uint256 start, uint256 end) {
        start = _alignUp(current, firstHeight);
        // A file either starts on a segment boundary or fits inside one segment, so that its
        // segments are whole flow segments: nodes and SDKs number a file's segments from
        // floor(startPos / 1024). Jumping to the boundary keeps the 2^h_0 alignment, since a
        // misaligned start means h_0 < 10.
        if (start % SEGMENT_SECTORS != 0 && start / SEGMENT_SECTORS != (start + sectors - 1) / SEGMENT_SECTORS) {
            start = _alignUp(start, SEGMENT_HEIGHT);
        }
        end = start + sectors;
    }

    /// The smallest multiple of 2^height that is >= value.
    function _alignUp(uint256 value, uint256 height) private pure returns (uint256) {
        uint256 mask = (uint256(1) << height) - 1;
        return (value + mask) & ~mask;
    }

    /// Takes the fee for `sectors` from msg.value, forwards it to the market and refunds the
    /// rest. The refund (0G keeps any excess) means a client that overpays, or prices with a
    /// stale quote, loses nothing; a caller that cannot receive ETH must pay exactly.
    function _settle(uint256 sectors) private {
        uint256 price = IMarket(market).pricePerSector();
        uint256 fee = sectors * price;
        if (msg.value < fee) revert NotEnoughFee(price, sectors, msg.value);
        IMarket(market).chargeFee{value: fee}(sectors);
        uint256 excess = msg.value - fee;
        if (excess != 0) {
            (bool ok, ) = msg.sender.call{value: excess}("");
            if (!ok) revert RefundFailed(msg.sender, excess);
        }
    }

    function _newResults(
        uint256 count
    ) private pure returns (uint256[] memory, bytes32[] memory, uint256[] memory, uint256[] memory) {
        return (new uint256[](count), new bytes32[](count), new uint256[](count), new uint256[](count));
    }
}
