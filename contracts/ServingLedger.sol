// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ServingLedger
/// @notice Pays AI serving providers from user deposits. A user deposits, funds a sub-account per
///         provider, and signs cumulative EIP-712 receipts with each request; the provider settles
///         the latest receipt whenever it likes. Settlement never pays more than the user signed
///         nor more than the sub-account holds, and an older or repeated receipt pays nothing.
/// @dev Receipts are cumulative, so one settlement covers any number of requests at the same gas.
///      Refunds wait out `lockTime`, and settlement may still spend a pending refund, so a provider
///      that settles within `lockTime` of serving is always paid for what it served.
///      The receipt's typed data is mirrored in src/protocol/serving/receipt.ts.
contract ServingLedger {
    struct Receipt {
        address user;
        address provider;
        /// Everything the user authorises this provider to charge, over all requests so far.
        uint256 cumulativeAmount;
        uint256 nonce;
    }

    struct SubAccount {
        uint256 balance;
        uint256 pendingRefund;
        uint256 unlockAt;
        /// Paid out to the provider so far, the running total receipts are compared against.
        uint256 settled;
        /// The nonce of the last receipt settled; older receipts are replays.
        uint256 lastNonce;
    }

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant NAME_HASH = keccak256("Levity Serving");
    bytes32 private constant VERSION_HASH = keccak256("1");
    bytes32 private constant RECEIPT_TYPEHASH =
        keccak256("Receipt(address user,address provider,uint256 cumulativeAmount,uint256 nonce)");
    /// secp256k1n / 2: a larger s is the malleable twin of a valid signature (EIP-2).
    uint256 private constant HALF_CURVE_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @notice Seconds a refund request waits before it can be claimed.
    uint256 public immutable lockTime;

    // The separator is cached for the chain the ledger was deployed on and recomputed after a
    // fork changes the chain id, so receipts signed for one chain never settle on the other.
    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;

    mapping(address user => uint256) private _available;
    mapping(address user => mapping(address provider => SubAccount)) private _subAccounts;

    bool private transient _entered;

    event Deposited(address indexed user, uint256 amount);
    event Withdrawn(address indexed user, uint256 amount);
    event Funded(address indexed user, address indexed provider, uint256 amount);
    event RefundRequested(address indexed user, address indexed provider, uint256 amount, uint256 unlockAt);
    event RefundClaimed(address indexed user, address indexed provider, uint256 amount);
    event Settled(address indexed user, address indexed provider, uint256 paid, uint256 settledTotal, uint256 nonce);

    error InsufficientAvailable();
    error InsufficientBalance();
    error RefundLocked(uint256 unlockAt);
    error NoPendingRefund();
    error NotProvider();
    error BadSignature();
    error StaleReceipt();
    error NothingToSettle();
    error OverSigned(uint256 amount, uint256 signed);
    error ZeroAmount();
    error TransferFailed(address to, uint256 amount);
    error Reentered();

    modifier nonReentrant() {
        if (_entered) revert Reentered();
        _entered = true;
        _;
        _entered = false;
    }

    constructor(uint256 lockTime_) {
        lockTime = lockTime_;
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _domainSeparator();
    }

    // ---------------------------------------------------------------- user funds

    function deposit() external payable {
        if (msg.value == 0) revert ZeroAmount();
        _available[msg.sender] += msg.value;
        emit Deposited(msg.sender, msg.value);
    }

    function withdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 available = _available[msg.sender];
        if (amount > available) revert InsufficientAvailable();
        _available[msg.sender] = available - amount;
        emit Withdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @notice Moves `amount` of the caller's available funds into its sub-account for `provider`.
    function fund(address provider, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 available = _available[msg.sender];
        if (amount > available) revert InsufficientAvailable();
        _available[msg.sender] = available - amount;
        _subAccounts[msg.sender][provider].balance += amount;
        emit Funded(msg.sender, provider, amount);
    }

    /// @notice Starts taking `amount` back from the sub-account: it joins the pending refund,
    ///         and the whole pending refund unlocks `lockTime` from now.
    function requestRefund(address provider, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        SubAccount storage sub = _subAccounts[msg.sender][provider];
        uint256 balance = sub.balance;
        if (amount > balance) revert InsufficientBalance();
        uint256 unlockAt = block.timestamp + lockTime;
        sub.balance = balance - amount;
        sub.pendingRefund += amount;
        sub.unlockAt = unlockAt;
        emit RefundRequested(msg.sender, provider, amount, unlockAt);
    }

    /// @notice Moves what is left of an unlocked pending refund (settlements may have spent some)
    ///         back to the caller's available funds.
    function claimRefund(address provider) external {
        SubAccount storage sub = _subAccounts[msg.sender][provider];
        uint256 pending = sub.pendingRefund;
        if (pending == 0) revert NoPendingRefund();
        uint256 unlockAt = sub.unlockAt;
        if (block.timestamp < unlockAt) revert RefundLocked(unlockAt);
        sub.pendingRefund = 0;
        sub.unlockAt = 0;
        _available[msg.sender] += pending;
        emit RefundClaimed(msg.sender, provider, pending);
    }

    // ---------------------------------------------------------------- settlement

    /// @notice Pays the caller, the receipt's provider, up to `amount` in total for everything
    ///         the receipt covers. `amount` is the provider's metered cumulative usage; it may be
    ///         below what the user signed, never above. Pays what is due beyond earlier
    ///         settlements, from the balance first and then from the pending refund; what the
    ///         sub-account cannot cover stays due and a later settlement can collect it.
    function settle(Receipt calldata receipt, bytes calldata signature, uint256 amount) external nonReentrant {
        if (msg.sender != receipt.provider) revert NotProvider();
        address signer = _recover(_receiptDigest(receipt), signature);
        if (signer == address(0) || signer != receipt.user) revert BadSignature();

        SubAccount storage sub = _subAccounts[receipt.user][msg.sender];
        if (receipt.nonce < sub.lastNonce) revert StaleReceipt();
        if (amount > receipt.cumulativeAmount) revert OverSigned(amount, receipt.cumulativeAmount);
        uint256 settled = sub.settled;
        if (amount <= settled) revert NothingToSettle();

        uint256 due = amount - settled;
        uint256 balance = sub.balance;
        uint256 paid;
        if (due <= balance) {
            paid = due;
            sub.balance = balance - due;
        } else {
            uint256 pending = sub.pendingRefund;
            uint256 fromPending = due - balance < pending ? due - balance : pending;
            paid = balance + fromPending;
            if (balance != 0) sub.balance = 0;
            if (fromPending != 0) sub.pendingRefund = pending - fromPending;
        }
        uint256 settledTotal = settled + paid;
        sub.settled = settledTotal;
        sub.lastNonce = receipt.nonce;
        emit Settled(receipt.user, msg.sender, paid, settledTotal, receipt.nonce);
        if (paid != 0) _send(msg.sender, paid);
    }

    // ---------------------------------------------------------------- views

    function accountOf(address user) external view returns (uint256 available) {
        return _available[user];
    }

    function subAccount(
        address user,
        address provider
    ) external view returns (uint256 balance, uint256 pendingRefund, uint256 unlockAt, uint256 settled, uint256 lastNonce) {
        SubAccount storage sub = _subAccounts[user][provider];
        return (sub.balance, sub.pendingRefund, sub.unlockAt, sub.settled, sub.lastNonce);
    }

    // ---------------------------------------------------------------- internals

    function _domainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    function _receiptDigest(Receipt calldata receipt) private view returns (bytes32) {
        bytes32 separator = block.chainid == _cachedChainId ? _cachedDomainSeparator : _domainSeparator();
        bytes32 structHash = keccak256(
            abi.encode(RECEIPT_TYPEHASH, receipt.user, receipt.provider, receipt.cumulativeAmount, receipt.nonce)
        );
        return keccak256(abi.encodePacked("\x19\x01", separator, structHash));
    }

    /// The signer of `digest`, or address(0) for anything but a canonical 65-byte r ‖ s ‖ v
    /// signature (low s, v of 27 or 28), so a malleated copy can never pass as a second signature.
    function _recover(bytes32 digest, bytes calldata signature) private pure returns (address) {
        if (signature.length != 65) return address(0);
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := calldataload(signature.offset)
            s := calldataload(add(signature.offset, 32))
            v := byte(0, calldataload(add(signature.offset, 64)))
        }
        if (uint256(s) > HALF_CURVE_ORDER) return address(0);
        if (v != 27 && v != 28) return address(0);
        // ecrecover also gives address(0) for a signature no key made: callers must reject it.
        return ecrecover(digest, v, r, s);
    }

    function _send(address to, uint256 amount) private {
        (bool ok, ) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }
}
