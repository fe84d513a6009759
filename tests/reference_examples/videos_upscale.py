import requests
videoAssetId = "assetId of video asset"
apiUrl = f"https://api.useapi.net/v1/runwayml/videos/upscale"
token = "API token"
headers = {
    "Content-Type": "application/json",
    "Authorization" : f"Bearer {token}"
}
body = {
    "videoAssetId": f"{videoAssetId}",
    "exploreMode": True
}
response = requests.post(apiUrl, headers=headers, json=body)
print(response, response.json())
