"""Media handling: probing uploads, previews, and the decode/scale/encode building blocks of engines.

Modules (import them directly; this package imports nothing so that ``taxiway.media.geometry`` stays
free of PyAV for callers that only need arithmetic):

* ``probe``      -- ``probe_file``, ``MediaInfo``, ``MediaError``: what a file is, and is it usable.
* ``previews``   -- ``make_previews``: JPEG stills of a video or image.
* ``geometry``   -- ``four_k_class``, ``fit_within``: output-size rules.
* ``containers`` -- ``open_input``: opening untrusted files safely; stream selection.
* ``decode``     -- ``VideoDecoder``: threaded decoding to upright frames with clean timestamps.
* ``scale``      -- ``Scaler``: swscale resizing to yuv420p BT.709.
* ``encode``     -- ``H264Writer``: libx264 MP4 output with the source audio, faststart, atomic.
* ``audio``      -- ``AudioCarrier``: copying or transcoding the source audio into the output.
* ``pipeline``   -- ``transcode_frames``: decode+transform on a worker thread, encode on the caller's;
  ``Stages``/``Handoff``: the thread plumbing under it, shared with the neural upscale's stages.
* ``timing``, ``timeline``, ``input_warnings`` -- the output's timing policy, and what was repaired.
* ``rgb_frames`` -- ``CropScaleRGB``, ``RGBToVideoFrame``: frames to RGB arrays and back.
* ``images``     -- ``load_image``: a still input image, upright.
* ``expand_layout`` -- the expand ratios and where the picture sits on the canvas.
* ``formats``    -- what a probed container is stored and served as.

Engine algorithms (the classic looks, fills, motion and rendering) live with their engines, in
``taxiway.engines.classic``.
"""
